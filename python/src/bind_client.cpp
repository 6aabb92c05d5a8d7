// fhellm.Model (and fhellm.Client, its subclass in __init__.py) over
// fhellm::Client: load, generate with a stream callback, perplexity, logits,
// modes, remote modules, compile; figures as attributes. Long calls release
// the GIL; generate checks for Ctrl-C (and runs the stream callback) with
// the GIL taken back at each piece of text.
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <cstring>

#include "arrays.h"
#include "bindings.h"
#include "fhellm/client.h"

namespace fhellm::python {
namespace {

ClientOptions client_options(const std::string& model, const std::string& artifact, const std::string& tokenizer,
                             const std::string& fhe, const std::string& server_url, const py::object& remote,
                             const std::string& precision, double timeout, int weight_bits,
                             const std::string& api_key, const std::string& ca_cert, bool online,
                             const std::string& online_store, const std::string& client_key) {
  ClientOptions o;
  o.online = online;
  o.online_store = online_store;
  o.client_key = client_key;
  o.api_key = api_key;
  o.ca_cert = ca_cert;
  o.weight_bits = weight_bits;
  o.model = model;
  o.artifact = artifact;
  o.tokenizer = tokenizer;
  o.fhe = fhe;
  o.server_url = server_url;
  o.remote = remote_spec(remote);
  o.precision = precision;
  o.timeout_seconds = timeout;
  return o;
}

// The text callback of generate: Ctrl-C first, then the user's callback
// (a false return stops the generation).
TextCallback stream_callback(const py::object& stream) {
  return [stream](std::string_view piece) {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (stream.is_none()) return true;
    py::object text = py::reinterpret_steal<py::object>(
        PyUnicode_DecodeUTF8(piece.data(), static_cast<Py_ssize_t>(piece.size()), "replace"));
    if (!text) throw py::error_already_set();
    py::object r = stream(text);
    return !(r.ptr() == Py_False);
  };
}

// Ctrl-C between windows of a perplexity (its progress callback).
std::function<void(std::uint64_t, std::uint64_t)> signal_check() {
  return [](std::uint64_t, std::uint64_t) {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  };
}

// prompt: a str (tokenized as the model expects, BOS added where it uses
// one) or a list of ids (as given).
GenerateResult generate(Client& c, const py::object& prompt, std::size_t max_new_tokens, float temperature,
                        float top_p, std::size_t top_k, float min_p, float repeat_penalty, std::uint64_t seed,
                        bool stop_at_eos, const std::vector<std::string>& stop, const py::object& stream,
                        bool reuse_prefix) {
  if (!stream.is_none() && !PyCallable_Check(stream.ptr()))
    throw_error(ErrorCode::invalid_argument, "stream must be callable (it receives each piece of text)");
  GenerateOptions g;
  g.max_tokens = max_new_tokens;
  g.temperature = temperature;
  g.top_p = top_p;
  g.top_k = top_k;
  g.min_p = min_p;
  g.repeat_penalty = repeat_penalty;
  g.seed = seed;
  g.stop_at_eos = stop_at_eos;
  g.stop = stop;
  g.reuse_prefix = reuse_prefix;
  const TextCallback cb = stream_callback(stream);
  if (py::isinstance<py::str>(prompt)) {
    const std::string text = prompt.cast<std::string>();
    py::gil_scoped_release release;
    return c.generate(text, g, cb);
  }
  std::vector<std::int32_t> ids;
  try {
    ids = prompt.cast<std::vector<std::int32_t>>();
  } catch (const py::cast_error&) {
    throw_error(ErrorCode::invalid_argument, "prompt must be a str or a list of token ids");
  }
  py::gil_scoped_release release;
  return c.generate_from_ids(ids, g, cb);
}

// The online mode's offline phase; stop() returning True, or Ctrl-C, ends it
// between two batches (the batches made stay stored; Ctrl-C then raises
// KeyboardInterrupt).
PrecomputeResult precompute(Client& c, std::size_t rows, const py::object& head_rows, std::size_t batch_rows,
                            const py::object& progress, const py::object& stop) {
  if (!progress.is_none() && !PyCallable_Check(progress.ptr()))
    throw_error(ErrorCode::invalid_argument, "progress must be callable (it receives rows made, rows to make)");
  if (!stop.is_none() && !PyCallable_Check(stop.ptr()))
    throw_error(ErrorCode::invalid_argument, "stop must be callable (True ends the run before the next batch)");
  PrecomputeOptions o;
  o.rows = rows;
  o.head_rows = head_rows.is_none() ? rows : head_rows.cast<std::size_t>();
  o.batch_rows = batch_rows;
  bool interrupted = false;
  o.stop = [&interrupted, stop] {
    py::gil_scoped_acquire gil;
    interrupted = PyErr_CheckSignals() != 0;
    return interrupted || (!stop.is_none() && stop().cast<bool>());
  };
  if (!progress.is_none()) {
    o.progress = [progress](std::uint64_t made, std::uint64_t total) {
      py::gil_scoped_acquire gil;
      progress(made, total);
    };
  }
  PrecomputeResult r;
  {
    py::gil_scoped_release release;
    r = c.precompute(o);
  }
  if (interrupted) throw py::error_already_set();
  return r;
}

PerplexityResult perplexity(Client& c, const std::string& text, std::size_t window, std::size_t stride) {
  PerplexityOptions o;
  o.window = window;
  o.stride = stride;
  o.progress = signal_check();
  py::gil_scoped_release release;
  return c.perplexity(text, o);
}

py::array_t<float> logits(Client& c, const std::vector<std::int32_t>& ids) {
  std::vector<float> out;
  {
    py::gil_scoped_release release;
    out = c.logits(ids);
  }
  const std::size_t vocab = ids.empty() ? 0 : out.size() / ids.size();
  py::array_t<float> a({static_cast<py::ssize_t>(ids.size()), static_cast<py::ssize_t>(vocab)});
  std::memcpy(a.mutable_data(), out.data(), out.size() * sizeof(float));
  return a;
}

void bind_stats(py::module_& m) {
  py::class_<ClientStats>(m, "ClientStats", "Figures of the last generate, perplexity or logits call (ms, bytes).")
      .def_readonly("n_prompt_tokens", &ClientStats::n_prompt_tokens)
      .def_readonly("n_cached_prompt_tokens", &ClientStats::n_cached_prompt_tokens)
      .def_readonly("n_generated_tokens", &ClientStats::n_generated_tokens)
      .def_readonly("total_ms", &ClientStats::total_ms)
      .def_readonly("prefill_ms", &ClientStats::prefill_ms)
      .def_readonly("decode_ms", &ClientStats::decode_ms)
      .def_readonly("ttft_ms", &ClientStats::ttft_ms)
      .def_readonly("prefill_ms_per_row", &ClientStats::prefill_ms_per_row)
      .def_readonly("decode_ms_per_token", &ClientStats::decode_ms_per_token)
      .def_readonly("tokens_per_second", &ClientStats::tokens_per_second)
      .def_readonly("remote_calls", &ClientStats::remote_calls)
      .def_readonly("remote_ms", &ClientStats::remote_ms)
      .def_readonly("server_ms", &ClientStats::server_ms)
      .def_readonly("network_ms", &ClientStats::network_ms)
      .def_readonly("client_ms", &ClientStats::client_ms)
      .def_readonly("crypto_ms", &ClientStats::crypto_ms)
      .def_readonly("bytes_up", &ClientStats::bytes_up)
      .def_readonly("bytes_down", &ClientStats::bytes_down)
      .def_readonly("prefill_server_ms", &ClientStats::prefill_server_ms)
      .def_readonly("prefill_network_ms", &ClientStats::prefill_network_ms)
      .def_readonly("prefill_bytes_up", &ClientStats::prefill_bytes_up)
      .def_readonly("prefill_bytes_down", &ClientStats::prefill_bytes_down)
      .def_readonly("decode_server_ms", &ClientStats::decode_server_ms)
      .def_readonly("decode_network_ms", &ClientStats::decode_network_ms)
      .def_readonly("decode_bytes_up", &ClientStats::decode_bytes_up)
      .def_readonly("decode_bytes_down", &ClientStats::decode_bytes_down)
      .def_readonly("session_key_bytes", &ClientStats::session_key_bytes)
      .def_readonly("key_bytes_up", &ClientStats::key_bytes_up)
      .def_readonly("session_open_ms", &ClientStats::session_open_ms)
      .def_readonly("online_rows", &ClientStats::online_rows)
      .def_readonly("fallback_rows", &ClientStats::fallback_rows)
      .def("__repr__", [](const ClientStats& s) {
        return "ClientStats(tokens=" + std::to_string(s.n_generated_tokens) +
               ", total_ms=" + std::to_string(s.total_ms) + ", bytes_up=" + std::to_string(s.bytes_up) +
               ", bytes_down=" + std::to_string(s.bytes_down) + ")";
      });
}

void bind_results(py::module_& m) {
  py::class_<GenerateResult>(m, "GenerateResult")
      .def_readonly("text", &GenerateResult::text)
      .def_readonly("ids", &GenerateResult::ids)
      .def_readonly("prompt_ids", &GenerateResult::prompt_ids)
      .def_readonly("cached_prompt_tokens", &GenerateResult::cached_prompt_tokens)
      .def_readonly("stopped_at_eos", &GenerateResult::stopped_at_eos)
      .def_readonly("cancelled", &GenerateResult::cancelled)
      .def_readonly("stop", &GenerateResult::stop)
      .def("__str__", [](const GenerateResult& r) { return r.text; })
      .def("__repr__", [](const GenerateResult& r) { return "GenerateResult(" + std::to_string(r.ids.size()) + " ids)"; });
  py::class_<PerplexityResult>(m, "PerplexityResult")
      .def_readonly("perplexity", &PerplexityResult::perplexity)
      .def_readonly("mean_nll", &PerplexityResult::mean_nll)
      .def_readonly("n_tokens", &PerplexityResult::n_tokens)
      .def_readonly("n_predicted", &PerplexityResult::n_predicted)
      .def_readonly("top1", &PerplexityResult::top1)
      .def_readonly("window", &PerplexityResult::window)
      .def_readonly("stride", &PerplexityResult::stride)
      .def("__float__", [](const PerplexityResult& r) { return r.perplexity; });
  py::class_<PrecomputeResult>(m, "PrecomputeResult", "What Model.precompute made (ms, bytes).")
      .def_readonly("rows_made", &PrecomputeResult::rows_made)
      .def_readonly("rows_present", &PrecomputeResult::rows_present)
      .def_readonly("calls", &PrecomputeResult::calls)
      .def_readonly("seconds", &PrecomputeResult::seconds)
      .def_readonly("server_ms", &PrecomputeResult::server_ms)
      .def_readonly("network_ms", &PrecomputeResult::network_ms)
      .def_readonly("bytes_up", &PrecomputeResult::bytes_up)
      .def_readonly("bytes_down", &PrecomputeResult::bytes_down)
      .def("__repr__", [](const PrecomputeResult& r) {
        return "PrecomputeResult(rows_made=" + std::to_string(r.rows_made) +
               ", rows_present=" + std::to_string(r.rows_present) + ")";
      });
  py::class_<ClientModelInfo>(m, "ModelInfo")
      .def_readonly("architecture", &ClientModelInfo::architecture)
      .def_readonly("n_layers", &ClientModelInfo::n_layers)
      .def_readonly("context", &ClientModelInfo::context)
      .def_readonly("vocab_size", &ClientModelInfo::vocab_size)
      .def_readonly("bos_id", &ClientModelInfo::bos_id)
      .def_readonly("eos_id", &ClientModelInfo::eos_id)
      .def_readonly("n_remote_modules", &ClientModelInfo::n_remote_modules)
      .def_readonly("weight_bits", &ClientModelInfo::weight_bits)
      .def_readonly("fhe", &ClientModelInfo::fhe);
  py::class_<Client::CompileResult>(m, "CompileResult")
      .def_readonly("server_path", &Client::CompileResult::server_path)
      .def_readonly("client_path", &Client::CompileResult::client_path)
      .def_readonly("server_bytes", &Client::CompileResult::server_bytes)
      .def_readonly("client_bytes", &Client::CompileResult::client_bytes)
      .def_readonly("n_remote", &Client::CompileResult::n_remote);
}

}  // namespace

std::string remote_spec(const py::object& remote) {
  if (py::isinstance<py::str>(remote)) return remote.cast<std::string>();
  std::string spec;
  for (const py::handle item : remote) {
    if (!py::isinstance<py::str>(item))
      throw_error(ErrorCode::invalid_argument, "remote modules: each entry must be a str");
    spec += (spec.empty() ? "" : ",") + item.cast<std::string>();
  }
  return spec.empty() ? "none" : spec;
}

void bind_client(py::module_& m) {
  bind_stats(m);
  bind_results(m);
  py::class_<Client>(m, "Model", R"(A model with fhellm's engine: the client holds the secret key, the
tokenizer and every non-linear layer; the remote linear modules run in the
FHE mode chosen ("disable": float in clear, "simulate": the integers of
execute in clear, "execute": encrypted, computed by a server in this process
or at server_url). Use Model.load(path) or fhellm.Client(artifact, url).)")
      .def(py::init([](const std::string& model, const std::string& artifact, const std::string& tokenizer,
                       const std::string& fhe, const std::string& server_url, const py::object& remote,
                       const std::string& precision, double timeout, const std::string& api_key,
                       const std::string& ca_cert, bool online, const std::string& online_store,
                       const std::string& client_key) {
             const ClientOptions o = client_options(model, artifact, tokenizer, fhe, server_url, remote, precision,
                                                    timeout, 0, api_key, ca_cert, online, online_store, client_key);
             py::gil_scoped_release release;
             return std::make_unique<Client>(o);
           }),
           py::kw_only(), py::arg("model") = "", py::arg("artifact") = "", py::arg("tokenizer") = "",
           py::arg("fhe") = "execute", py::arg("server_url") = "", py::arg("remote") = "default",
           py::arg("precision") = "default", py::arg("timeout") = 120.0, py::arg("api_key") = "",
           py::arg("ca_cert") = "", py::arg("online") = false, py::arg("online_store") = "",
           py::arg("client_key") = "")
      .def_static("load",
                  [](const std::string& path, const std::string& tokenizer, const std::string& fhe,
                     const std::string& server_url, const py::object& remote, const std::string& precision,
                     double timeout, int n_bits, const std::string& api_key, const std::string& ca_cert,
                     bool online, const std::string& online_store, const std::string& client_key) {
                    const ClientOptions o = client_options(path, "", tokenizer, fhe, server_url, remote, precision,
                                                           timeout, n_bits, api_key, ca_cert, online, online_store,
                                                           client_key);
                    py::gil_scoped_release release;
                    return std::make_unique<Client>(o);
                  },
                  py::arg("path"), py::kw_only(), py::arg("tokenizer") = "", py::arg("fhe") = "execute",
                  py::arg("server_url") = "", py::arg("remote") = "default", py::arg("precision") = "default",
                  py::arg("timeout") = 120.0, py::arg("n_bits") = 8, py::arg("api_key") = "",
                  py::arg("ca_cert") = "", py::arg("online") = false, py::arg("online_store") = "",
                  py::arg("client_key") = "",
                  "Loads a llama2.c .bin, a Hugging Face folder or a GGUF file (every format the CLI reads).")
      .def("generate", &generate, py::arg("prompt"), py::arg("max_new_tokens") = 64, py::arg("temperature") = 0.0f,
           py::arg("top_p") = 1.0f, py::arg("top_k") = 0, py::arg("min_p") = 0.0f, py::arg("repeat_penalty") = 1.0f,
           py::arg("seed") = 0, py::arg("stop_at_eos") = true, py::arg("stop") = std::vector<std::string>{},
           py::arg("stream") = py::none(), py::arg("reuse_prefix") = false,
           "Generates from prompt (a str, or a list of ids taken as given); stream(piece) receives each piece "
           "of text (return False to stop). Ctrl-C raises KeyboardInterrupt at the next piece. reuse_prefix: "
           "keep this generation's KV cache, and take from it the prefix the prompt shares with the previous "
           "reuse_prefix generation (a chat's next turn runs its new message only; cached_prompt_tokens counts "
           "the ids taken).")
      .def("precompute", &precompute, py::arg("rows"), py::arg("head_rows") = py::none(),
           py::arg("batch_rows") = 64, py::arg("progress") = py::none(), py::arg("stop") = py::none(),
           "The online mode's offline phase (docs/online.md): tops every remote group up to `rows` masks "
           "(the LM head to head_rows, default rows), a batch per group in turn, multiplied by the server under "
           "encryption and stored encrypted at online_store; a Model(online=True) then runs each remote row on "
           "one, in clear on the server, exactly. progress(made, total) after each batch; stop() before each "
           "(True ends the run, e.g. from a background thread when a request comes); Ctrl-C stops between "
           "batches.")
      .def("perplexity", &perplexity, py::arg("text"), py::arg("window") = 0, py::arg("stride") = 0,
           "Perplexity of text in windows of `window` positions every `stride` (0: the model's context, "
           "window / 2).")
      .def("tokenize",
           [](const Client& c, const std::string& text, bool add_special) { return c.tokenize(text, add_special); },
           py::arg("text"), py::arg("add_special") = true)
      .def("logits", &logits, py::arg("ids"),
           "The logits of every position of ids: a float32 array [len(ids), vocab].")
      .def("set_fhe_mode", &Client::set_fhe_mode, py::arg("mode"))
      .def("set_simulate_draw", &Client::set_simulate_draw, py::arg("draw"),
           "Which draw of simulate's modelled errors the next simulate call uses: 0 (the default) or any other "
           "number for errors independent of it, as another execute run makes.")
      .def("set_remote_modules",
           [](Client& c, const py::object& modules) { c.set_remote_modules(remote_spec(modules)); },
           py::arg("modules"))
      .def("compile",
           [](const Client& c, const std::string& prefix, int n_bits) {
             py::gil_scoped_release release;
             return c.compile(prefix, n_bits);
           },
           py::arg("path_prefix"), py::arg("n_bits") = 8)
      .def("cancel", &Client::cancel)
      .def("prepare",
           [](Client& c) {
             py::gil_scoped_release release;
             c.prepare();
           },
           "In execute, opens the server session now (keys made and uploaded), so the first generate does not "
           "wait for it; nothing in the other modes.")
      .def_property_readonly("last_stats", [](const Client& c) { return c.last_stats(); })
      .def_property_readonly("info", &Client::model_info)
      .def_property_readonly("fhe_mode", [](const Client& c) { return c.model_info().fhe; });
}

}  // namespace fhellm::python
