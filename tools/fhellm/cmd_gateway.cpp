// fhellm gateway: the private client as a local OpenAI-compatible HTTP server
// (GET /v1/models, POST /v1/completions, POST /v1/chat/completions, streamed
// as server-sent events or not). The secret key stays in this process; the
// fhellm server sees only ciphertexts. Stops on SIGINT / SIGTERM.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include <httplib.h>

#include "chat_engine.h"
#include "engine_options.h"
#include "cli_common.h"
#include "commands.h"
#include "fhellm/error.h"
#include "openai_api.h"

namespace fhellm::cli {
namespace {

struct GatewayArgs {
  ChatEngineOptions engine;
  std::string listen = "127.0.0.1:8080";
  int threads = 0;
};

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string new_id(const char* prefix) {
  static std::atomic<std::uint64_t> counter{0};
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s-%llx%04llx", prefix, static_cast<unsigned long long>(now_seconds()),
                static_cast<unsigned long long>(++counter));
  return buf;
}

void send_json(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace), "application/json");
}

// fhellm::Error -> the OpenAI error object: the client's mistakes are 400s.
OpenAiError to_openai(const Error& e) {
  switch (e.kind()) {
    case ErrorKind::invalid_argument:
    case ErrorKind::format:
      return OpenAiError(400, "invalid_request_error", e.what(), "", std::string(error_code_name(e.code())));
    case ErrorKind::protocol:
      return OpenAiError(502, "server_error", e.what(), "", std::string(error_code_name(e.code())));
    default:
      return OpenAiError(500, "server_error", e.what(), "", std::string(error_code_name(e.code())));
  }
}

class Gateway {
 public:
  explicit Gateway(ChatEngine& engine) : engine_(engine) {}

  void routes(httplib::Server& http) {
    http.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
      send_json(res, 200,
                {{"object", "list"},
                 {"data", Json::array({{{"id", engine_.model_name()}, {"object", "model"}, {"created", now_seconds()},
                                        {"owned_by", "fhellm"}}})}});
    });
    http.Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) { handle(req, res, false); });
    http.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) { handle(req, res, true); });
    http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      const OpenAiError e(res.status == 404 ? 404 : res.status, "invalid_request_error",
                          "no route " + req.method + " " + req.path, "", res.status == 404 ? "unknown_url" : "");
      send_json(res, e.status, error_body(e));
    });
  }

 private:
  void handle(const httplib::Request& req, httplib::Response& res, bool chat) {
    try {
      Json body;
      try {
        body = Json::parse(req.body);
      } catch (const Json::exception&) {
        throw OpenAiError(400, "invalid_request_error", "the request body is not valid JSON");
      }
      const OpenAiRequest r = chat ? parse_chat_request(body) : parse_completion_request(body);
      if (const auto m = body.find("model"); m != body.end() && m->is_string() && *m != engine_.model_name()) {
        throw OpenAiError(404, "invalid_request_error", "the model '" + m->get<std::string>() + "' does not exist (this gateway serves '" + engine_.model_name() + "')", "model", "model_not_found");
      }
      EngineRequest er;
      er.prompt_ids = chat ? engine_.encode_chat(r.messages) : engine_.encode_text(r.prompt);
      er.options = r.generate;
      std::shared_ptr<ChatEngine::Lease> lease = engine_.acquire(er.prompt_ids);
      if (!lease) throw OpenAiError(503, "server_error", "every session is busy and the queue is full: retry later", "", "overloaded");
      if (r.stream) {
        stream(res, std::move(lease), std::move(er), r);
      } else {
        const EngineResult out = engine_.run(*lease, er, [](const std::string&) { return true; });
        const std::string id = new_id(chat ? "chatcmpl" : "cmpl");
        send_json(res, 200, chat ? chat_response(id, now_seconds(), engine_.model_name(), out, engine_.fhe())
                                 : completion_response(id, now_seconds(), engine_.model_name(), out, engine_.fhe()));
      }
    } catch (const OpenAiError& e) {
      send_json(res, e.status, error_body(e));
    } catch (const Error& e) {
      const OpenAiError oe = to_openai(e);
      send_json(res, oe.status, error_body(oe));
    } catch (const std::exception& e) {
      send_json(res, 500, error_body(OpenAiError(500, "server_error", e.what())));
    }
  }

  // Server-sent events: one `data: {chunk}` per piece of text, then the last
  // chunk with its finish_reason, the usage chunk when asked, `data: [DONE]`.
  void stream(httplib::Response& res, std::shared_ptr<ChatEngine::Lease> lease, EngineRequest er, const OpenAiRequest& r) {
    const bool chat = r.chat, include_usage = r.include_usage;
    res.set_header("Cache-Control", "no-cache");
    res.set_chunked_content_provider(
        "text/event-stream", [this, lease, er, chat, include_usage](std::size_t, httplib::DataSink& sink) {
          const std::string id = new_id(chat ? "chatcmpl" : "cmpl");
          const std::int64_t created = now_seconds();
          const std::string& model = engine_.model_name();
          auto send = [&](const Json& j) {
            const std::string event = "data: " + j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n\n";
            return sink.is_writable() && sink.write(event.data(), event.size());
          };
          try {
            if (chat) send(chat_chunk(id, created, model, {{"role", "assistant"}, {"content", ""}}, ""));
            const EngineResult out = engine_.run(*lease, er, [&](const std::string& piece) {
              return send(chat ? chat_chunk(id, created, model, {{"content", piece}}, "")
                               : completion_chunk(id, created, model, piece, ""));
            });
            send(chat ? chat_chunk(id, created, model, Json::object(), out.finish_reason)
                      : completion_chunk(id, created, model, "", out.finish_reason));
            if (include_usage) send(usage_chunk(id, created, model, chat, out, engine_.fhe()));
          } catch (const Error& e) {  // mid-stream: an error event, as OpenAI sends one
            send(error_body(to_openai(e)));
          }
          const std::string done = "data: [DONE]\n\n";
          if (sink.is_writable()) sink.write(done.data(), done.size());
          sink.done();
          return true;
        });
  }

  ChatEngine& engine_;
};

std::pair<std::string, int> parse_host_port(const std::string& s) {
  const auto colon = s.rfind(':');
  require(colon != std::string::npos && colon > 0, ErrorCode::bad_command_line, "--listen '" + s + "' must be HOST:PORT");
  int port = -1;
  try {
    std::size_t used = 0;
    port = std::stoi(s.substr(colon + 1), &used);
    if (used != s.size() - colon - 1) port = -1;
  } catch (...) {
    port = -1;
  }
  require(port >= 0 && port <= 65535, ErrorCode::bad_command_line, "--listen '" + s + "': bad port");
  return {s.substr(0, colon), port};
}

void run_gateway(const GatewayArgs& a) {
  apply_threads(a.threads);
  const auto [host, port] = parse_host_port(a.listen);
  ChatEngineOptions options = a.engine;
  options.log = [](const std::string& line) {
    std::fprintf(stderr, "fhellm gateway: %s\n", line.c_str());
    std::fflush(stderr);
  };
  // Block the stop signals before any thread starts (the engine's warm-up,
  // background precompute and pool workers, the HTTP server's inherit the
  // mask), then wait for one here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  ChatEngine engine(options);
  httplib::Server http;
  Gateway gateway(engine);
  gateway.routes(http);
  http.new_task_queue = [n = a.engine.sessions + a.engine.queue + 2] { return new httplib::ThreadPool(n); };
  const int bound = port == 0 ? http.bind_to_any_port(host) : (http.bind_to_port(host, port) ? port : -1);
  require(bound > 0, ErrorCode::io_error, "cannot listen on " + a.listen);
  std::thread server([&] { http.listen_after_bind(); });
  std::printf("fhellm gateway: OpenAI API on http://%s:%d/v1 (model '%s', fhe %s, %zu session%s, chat template %s)\n",
              host.c_str(), bound, engine.model_name().c_str(), engine.fhe().c_str(), a.engine.sessions,
              a.engine.sessions == 1 ? "" : "s", engine.chat_template().name().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::fprintf(stderr, "fhellm gateway: signal %d, stopping\n", sig);
  http.stop();
  server.join();
}

}  // namespace

void register_gateway(CLI::App& app) {
  auto args = std::make_shared<GatewayArgs>();
  auto* cmd = app.add_subcommand("gateway", "The private client as a local OpenAI-compatible HTTP server");
  cmd->footer(
      "Example:\n"
      "  fhellm serve --artifact st.server --listen 127.0.0.1:8600 &\n"
      "  fhellm gateway --artifact st.client --server http://127.0.0.1:8600 --listen 127.0.0.1:8080\n"
      "  curl http://127.0.0.1:8080/v1/chat/completions -d '{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}]}'");
  ChatEngineOptions& e = args->engine;
  add_engine_options(cmd, e,
                     "run every request's whole prompt (by default a session keeps its KV cache and runs only what a "
                     "prompt adds to it)");
  cmd->add_option("--sessions", e.sessions, "generations at once, each with its own session")->capture_default_str();
  cmd->add_option("--queue", e.queue, "requests that may wait for a session (then: 503)")->capture_default_str();
  cmd->add_option("--listen", args->listen, "HOST:PORT (port 0: any free port, printed)")->capture_default_str();
  add_threads_option(cmd, args->threads);
  cmd->callback([args] { run_gateway(*args); });
}

}  // namespace fhellm::cli
