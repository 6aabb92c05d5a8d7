/* fhellm C API: the client and server facades (fhellm/client.h,
 * fhellm/server.h) behind opaque handles, for bindings and programs in other
 * languages. Nothing here throws: every function that can fail returns an
 * fhellm_status, 0 on success, else the stable number of the fhellm error
 * code (fhellm/error.h: 111 file_not_found, 405 bad_config, 705
 * server_unavailable, ...), and fhellm_last_error() then describes it.
 *
 *   fhellm_client_params p = fhellm_client_default_params();
 *   p.artifact = "gpt2.client";
 *   p.server_url = "http://127.0.0.1:8600";
 *   fhellm_client* c = NULL;
 *   if (fhellm_client_open(&p, &c) != FHELLM_OK) { fprintf(stderr, "%s\n", fhellm_last_error()); return 1; }
 *   fhellm_generate_params g = fhellm_generate_default_params();
 *   char* text = NULL;
 *   fhellm_client_generate(c, "Programming is", &g, print_piece, NULL, &text);
 *   fhellm_string_free(text);
 *   fhellm_client_free(c);
 *
 * Strings are UTF-8 and NUL-terminated unless a length is given. Handles are
 * not thread-safe, except fhellm_client_cancel and fhellm_server_stop /
 * fhellm_server_metrics, which any thread may call.
 */
#ifndef FHELLM_FHELLM_H
#define FHELLM_FHELLM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int fhellm_status; /* 0: success; else an fhellm error code (fhellm/error.h) */
#define FHELLM_OK 0

/* The version of the library ("0.1.0"). */
const char* fhellm_version(void);
/* The message of the last call that failed on this thread ("" if none). */
const char* fhellm_last_error(void);
/* The name of an error code ("file_not_found"; "ok" for 0, "unknown_error" for others). */
const char* fhellm_error_name(fhellm_status code);
/* Frees a string the library returned (NULL is fine). */
void fhellm_string_free(char* s);

/* ---- client ---------------------------------------------------------- */

typedef struct fhellm_client fhellm_client;

/* As fhellm::ClientOptions; NULL strings mean the default (empty). */
typedef struct fhellm_client_params {
  const char* artifact;   /* NAME.client (needs server_url) ... */
  const char* model;      /* ... or a model file or folder */
  const char* tokenizer;  /* with model; NULL: next to it */
  const char* fhe;        /* "disable" | "simulate" | "execute" (default) */
  const char* server_url; /* execute: http(s)://HOST:PORT; NULL: a server in this process */
  const char* remote;     /* "default" (linear layers + token embedding), "all-linear", "none", "qkv,lm_head", ... */
  const char* precision;  /* "default" (default) | "exact": execute's, and what simulate models */
  double timeout_seconds; /* per exchange with the server (default 120) */
  const char* api_key;    /* execute: the server's API key, sent as "Authorization: Bearer KEY" */
  const char* ca_cert;    /* execute: a PEM CA file to trust for an https:// server besides the system's */
  uint64_t simulate_draw; /* simulate: which draw of the modelled errors (0, the default, or another) */
  int online;               /* execute, nonzero: rows on masks made by fhellm_client_precompute (docs/online.md) */
  const char* online_store; /* online: the masks' directory (NULL: ~/.cache/fhellm/online) */
  const char* client_key;   /* online: the key they are stored under (NULL: ~/.config/fhellm/client.key) */
} fhellm_client_params;

fhellm_client_params fhellm_client_default_params(void);
/* Loads the model or artifact. On failure *out is NULL. */
fhellm_status fhellm_client_open(const fhellm_client_params* params, fhellm_client** out);
void fhellm_client_free(fhellm_client* client); /* NULL is fine */

typedef struct fhellm_generate_params {
  uint32_t max_tokens; /* default 64 */
  float temperature;   /* 0: greedy (default) */
  float top_p;         /* default 1 */
  uint32_t top_k;      /* 0: all (default) */
  uint64_t seed;
  int stop_at_eos;     /* nonzero: stop at the end of text (default 1) */
  int reuse_prefix;    /* nonzero: keep the KV cache, and run only what the prompt adds to the prefix it
                          shares with the previous such call (a chat's next turn; default 0) */
} fhellm_generate_params;

fhellm_generate_params fhellm_generate_default_params(void);

/* Receives each piece of generated text (len bytes, not NUL-terminated);
 * returns nonzero to go on, 0 to stop after this token. */
typedef int (*fhellm_text_callback)(const char* piece, size_t len, void* user_data);

/* Generates from `prompt`. on_text may be NULL. When text_out is not NULL it
 * receives the whole generated text (free it with fhellm_string_free). */
fhellm_status fhellm_client_generate(fhellm_client* client, const char* prompt, const fhellm_generate_params* params,
                                     fhellm_text_callback on_text, void* user_data, char** text_out);
/* Stops a generation in progress after its current token (any thread). */
void fhellm_client_cancel(fhellm_client* client);
/* Perplexity of `text` under the model, in overlapping windows of `window` positions
   (0: the model's context, at most 1024) starting every window / 2 (fhellm::PerplexityOptions). */
fhellm_status fhellm_client_perplexity(fhellm_client* client, const char* text, size_t window, double* perplexity);
/* Switches the FHE mode ("disable", "simulate", "execute"). */
fhellm_status fhellm_client_set_fhe_mode(fhellm_client* client, const char* fhe);
/* The online mode's offline phase (docs/online.md): tops every remote group up to `rows` masks (the
   LM head to head_rows), multiplied by the server under encryption and stored at the client's
   online_store; rows_made (may be NULL) receives how many were made. Needs execute. */
fhellm_status fhellm_client_precompute(fhellm_client* client, uint64_t rows, uint64_t head_rows, uint64_t* rows_made);

/* Figures of the last generate or perplexity call (fhellm::ClientStats). */
typedef struct fhellm_client_stats {
  uint64_t n_prompt_tokens, n_generated_tokens;
  double total_ms, prefill_ms, decode_ms, ttft_ms, prefill_ms_per_row, decode_ms_per_token, tokens_per_second;
  uint64_t remote_calls;
  double remote_ms, server_ms, network_ms, client_ms, crypto_ms;
  uint64_t bytes_up, bytes_down, session_key_bytes;
  double session_open_ms;
  uint64_t n_cached_prompt_tokens;    /* reuse_prefix: prompt tokens taken from the kept KV cache */
  uint64_t online_rows, fallback_rows; /* online: remote rows on masks, and rows encrypted for want of them */
} fhellm_client_stats;

void fhellm_client_last_stats(const fhellm_client* client, fhellm_client_stats* out);

/* ---- server ---------------------------------------------------------- */

typedef struct fhellm_server fhellm_server;

/* As fhellm::ServerOptions; NULL strings mean the default. */
typedef struct fhellm_server_params {
  const char* artifact;     /* NAME.server ... */
  const char* model;        /* ... or a model quantized at load ... */
  const char* random_shape; /* ... or random weights of a named shape */
  uint64_t seed;            /* random_shape (default 1) */
  const char* remote;       /* model / random_shape (default "default") */
  int weight_bits;          /* model / random_shape (default 8) */
  const char* precisions;   /* served, each encoded at load: "default" (default), "exact", "default,exact" */
  const char* host;         /* default "127.0.0.1" */
  int port;                 /* default 8600; 0: any free port */
  uint64_t max_connections; /* default 256 */
  int parallel_calls;       /* 0: hardware threads (default) */
  uint64_t max_sessions;    /* default 64 */
  uint64_t max_session_bytes;
  uint32_t max_request_bytes;
  double idle_timeout_seconds;
  const char* tls_cert; /* both set: HTTPS */
  const char* tls_key;
  const char* api_keys; /* a key file (`fhellm api-key add`); NULL: no keys, loopback only */
  int weight_privacy_bits; /* 0..40 (default 0): docs/linear.md section 6 */
  const char* session_store; /* NULL: this process; "redis://[[USER]:PASSWORD@]HOST:PORT[/DB]": shared by replicas */
  uint64_t key_cache_bytes;  /* with a shared store: this replica's cache of parsed keys (default 1 GiB) */
  int online;                /* nonzero: also serve the online mode (docs/online.md) */
} fhellm_server_params;

fhellm_server_params fhellm_server_default_params(void);
/* Loads what to serve; does not listen yet. On failure *out is NULL. */
fhellm_status fhellm_server_open(const fhellm_server_params* params, fhellm_server** out);
/* Binds and serves on background threads. */
fhellm_status fhellm_server_start(fhellm_server* server);
/* The bound port (after start). */
int fhellm_server_port(const fhellm_server* server);
/* Blocks until fhellm_server_stop is called from another thread. */
void fhellm_server_wait(fhellm_server* server);
/* Stops serving (idempotent; any thread). */
void fhellm_server_stop(fhellm_server* server);
void fhellm_server_free(fhellm_server* server); /* stops first; NULL is fine */

typedef struct fhellm_server_metrics {
  uint64_t sessions_active, sessions_opened, sessions_closed, sessions_expired;
  uint64_t requests, linear_calls, errors, bytes_in, bytes_out;
  double latency_seconds_sum, latency_seconds_max, service_seconds_sum;
} fhellm_server_metrics;

void fhellm_server_get_metrics(const fhellm_server* server, fhellm_server_metrics* out);

#ifdef __cplusplus
}
#endif

#endif /* FHELLM_FHELLM_H */
