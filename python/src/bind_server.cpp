// fhellm.Server over fhellm::Server: load an artifact (or a model), then
// serve() in the foreground until Ctrl-C or stop(), or start() in the
// background (tests, notebooks) and stop() later; metrics as attributes.
#include <pybind11/stl.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "bindings.h"
#include "errors.h"
#include "fhellm/server.h"

namespace fhellm::python {
namespace {

class PyServer {
 public:
  explicit PyServer(const ServerOptions& o) : server_(o) {}

  std::string start() {
    {
      py::gil_scoped_release release;
      if (!started_) server_.start();
    }
    started_ = true;
    stop_ = false;
    return server_.url();
  }

  // Serves until stop() (from another thread) or a signal (Ctrl-C raises
  // KeyboardInterrupt here, after the server stopped).
  void serve() {
    start();
    while (!stop_) {
      {
        py::gil_scoped_release release;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      if (PyErr_CheckSignals() != 0) {
        stop();
        throw py::error_already_set();
      }
    }
  }

  void stop() {
    stop_ = true;
    py::gil_scoped_release release;
    server_.stop();
    started_ = false;
  }

  Server& server() { return server_; }

 private:
  Server server_;
  bool started_ = false;
  std::atomic<bool> stop_{false};
};

ServerOptions server_options(const std::string& artifact, const std::string& model, const std::string& host,
                             int port, const std::vector<std::string>& precisions, const py::object& remote,
                             int weight_bits, int parallel_calls) {
  ServerOptions o;
  o.artifact = artifact;
  o.model = model;
  o.host = host;
  o.port = port;
  o.precisions = precisions;
  o.remote = remote_spec(remote);
  o.weight_bits = weight_bits;
  o.parallel_calls = parallel_calls;
  return o;
}

}  // namespace

void bind_server(py::module_& m) {
  py::class_<ServerMetrics>(m, "ServerMetrics")
      .def_readonly("sessions_active", &ServerMetrics::sessions_active)
      .def_readonly("sessions_opened", &ServerMetrics::sessions_opened)
      .def_readonly("sessions_closed", &ServerMetrics::sessions_closed)
      .def_readonly("sessions_expired", &ServerMetrics::sessions_expired)
      .def_readonly("requests", &ServerMetrics::requests)
      .def_readonly("linear_calls", &ServerMetrics::linear_calls)
      .def_readonly("errors", &ServerMetrics::errors)
      .def_readonly("bytes_in", &ServerMetrics::bytes_in)
      .def_readonly("bytes_out", &ServerMetrics::bytes_out)
      .def_readonly("latency_seconds_sum", &ServerMetrics::latency_seconds_sum)
      .def_readonly("latency_seconds_max", &ServerMetrics::latency_seconds_max)
      .def_readonly("service_seconds_sum", &ServerMetrics::service_seconds_sum);
  py::class_<ServedModel>(m, "ServedModel")
      .def_readonly("architecture", &ServedModel::architecture)
      .def_readonly("n_linear_groups", &ServedModel::n_linear_groups)
      .def_readonly("weight_bits", &ServedModel::weight_bits)
      .def_readonly("weight_count", &ServedModel::weight_count)
      .def_readonly("encoded_bytes", &ServedModel::encoded_bytes);
  py::class_<PyServer>(m, "Server", R"(An fhellm server: holds the int8 weights of the remote linear layers and
multiplies them by clients' encrypted activations over HTTP. Server(artifact)
loads NAME.server (from Model.compile, `fhellm compile` or
fhellm.torch.HybridModel.save); serve() blocks until Ctrl-C or stop(),
start() serves in the background and returns the URL. The deployment
options are `fhellm serve`'s (docs/deploy.md): api_keys (a key file of
`fhellm api-key add`), session_store ("redis://HOST:PORT" shared by
replicas) with key_cache_mb, tls_cert and tls_key (HTTPS), insecure (plain
HTTP off loopback), online, weight_privacy_bits, max_sessions, idle_timeout
(seconds).)")
      .def(py::init([](const std::string& artifact, const std::string& model, const std::string& host, int port,
                       const std::vector<std::string>& precisions, const py::object& remote, int weight_bits,
                       int parallel_calls, const std::string& api_keys, const std::string& session_store,
                       double key_cache_mb, const std::string& tls_cert, const std::string& tls_key, bool insecure,
                       bool online, int weight_privacy_bits, std::size_t max_sessions, double idle_timeout) {
             ServerOptions o =
                 server_options(artifact, model, host, port, precisions, remote, weight_bits, parallel_calls);
             o.api_keys = api_keys;  // where and who: `fhellm serve`'s deployment options (docs/deploy.md)
             o.session_store = session_store;
             o.key_cache_bytes = static_cast<std::uint64_t>(key_cache_mb * 1048576.0);
             o.tls_cert = tls_cert;
             o.tls_key = tls_key;
             o.insecure = insecure;
             o.online = online;
             o.weight_privacy_bits = weight_privacy_bits;
             o.max_sessions = max_sessions;
             o.idle_timeout_seconds = idle_timeout;
             py::gil_scoped_release release;
             return std::make_unique<PyServer>(o);
           }),
           py::arg("artifact") = "", py::kw_only(), py::arg("model") = "", py::arg("host") = "127.0.0.1",
           py::arg("port") = 8600, py::arg("precisions") = std::vector<std::string>{"default"},
           py::arg("remote") = "default", py::arg("weight_bits") = 8, py::arg("parallel_calls") = 0,
           py::arg("api_keys") = "", py::arg("session_store") = "",
           py::arg("key_cache_mb") = static_cast<double>(ServerOptions{}.key_cache_bytes) / 1048576.0,
           py::arg("tls_cert") = "", py::arg("tls_key") = "", py::arg("insecure") = false, py::arg("online") = false,
           py::arg("weight_privacy_bits") = 0, py::arg("max_sessions") = ServerOptions{}.max_sessions,
           py::arg("idle_timeout") = ServerOptions{}.idle_timeout_seconds)
      .def("serve", &PyServer::serve, "Serves until Ctrl-C (KeyboardInterrupt) or stop() from another thread.")
      .def("start", &PyServer::start, "Serves in the background; returns the URL.")
      .def("stop", &PyServer::stop)
      .def("__enter__", [](PyServer& s) -> PyServer& { s.start(); return s; }, py::return_value_policy::reference)
      .def("__exit__", [](PyServer& s, const py::args&) { s.stop(); })
      .def_property_readonly("port", [](PyServer& s) { return s.server().port(); })
      .def_property_readonly("url", [](PyServer& s) { return s.server().url(); })
      .def_property_readonly("metrics", [](PyServer& s) { return s.server().metrics(); })
      .def_property_readonly("metrics_text", [](PyServer& s) { return s.server().metrics_text(); })
      .def_property_readonly("served_model", [](PyServer& s) { return s.server().served_model(); });
}

}  // namespace fhellm::python
