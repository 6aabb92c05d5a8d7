/* The C API: encrypted generation with the server in this process.
 *   fhellm_example_c models/stories260K.bin "Once upon a time" */
#include <stdio.h>

#include <fhellm/fhellm.h>

static int print_piece(const char* piece, size_t len, void* user_data) {
  (void)user_data;
  fwrite(piece, 1, len, stdout);
  fflush(stdout);
  return 1; /* 0 would stop the generation */
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODEL PROMPT\n", argv[0]);
    return 2;
  }
  fhellm_client_params params = fhellm_client_default_params();
  params.model = argv[1]; /* fhe "execute" with no server_url: the server runs in this process */
  fhellm_client* client = NULL;
  if (fhellm_client_open(&params, &client) != FHELLM_OK) {
    fprintf(stderr, "error: %s\n", fhellm_last_error());
    return 1;
  }
  fhellm_generate_params generate = fhellm_generate_default_params();
  generate.max_tokens = 16;
  printf("%s", argv[2]);
  fhellm_status status = fhellm_client_generate(client, argv[2], &generate, print_piece, NULL, NULL);
  if (status != FHELLM_OK) fprintf(stderr, "\nerror %d (%s): %s\n", status, fhellm_error_name(status), fhellm_last_error());
  fhellm_client_stats stats;
  fhellm_client_last_stats(client, &stats);
  printf("\nfhellm %s: %llu tokens, %llu bytes up\n", fhellm_version(), (unsigned long long)stats.n_generated_tokens,
         (unsigned long long)stats.bytes_up);
  fhellm_client_free(client);
  return status == FHELLM_OK ? 0 : 1;
}
