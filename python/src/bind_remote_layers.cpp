// fhellm.RemoteLayers over fhellm::RemoteLayers: what fhellm.torch's remote
// layers call. Arrays in and out are numpy float32; simulate and execute
// release the GIL.
#include <pybind11/stl.h>

#include <cstring>

#include "arrays.h"
#include "bindings.h"
#include "fhellm/remote_layers.h"

namespace fhellm::python {
namespace {

using Apply = void (RemoteLayers::*)(const std::string&, const float*, std::size_t, const float*, float*);

// y = layer(x) for x [rows, n_in] float32, bias [n_out] float32 or None.
py::array_t<float> apply(RemoteLayers& layers, Apply method, const std::string& name, const py::handle& x_in,
                         const py::handle& bias_in) {
  const RemoteLayerInfo& info = layers.info(name);
  const auto x = checked_array<float>(x_in, 2, "x");
  if (static_cast<std::size_t>(x.shape(1)) != info.n_in) {
    throw_error(ErrorCode::shape_mismatch, "x has rows of " + std::to_string(x.shape(1)) + " values, layer '" + name +
                                               "' takes " + std::to_string(info.n_in));
  }
  py::array_t<float, py::array::c_style> bias;
  if (!bias_in.is_none()) {
    bias = checked_array<float>(bias_in, 1, "bias");
    if (static_cast<std::size_t>(bias.shape(0)) != info.n_out) {
      throw_error(ErrorCode::shape_mismatch, "bias has " + std::to_string(bias.shape(0)) + " values, layer '" + name +
                                                 "' has " + std::to_string(info.n_out) + " outputs");
    }
  }
  const std::size_t rows = static_cast<std::size_t>(x.shape(0));
  py::array_t<float> y({static_cast<py::ssize_t>(rows), static_cast<py::ssize_t>(info.n_out)});
  if (rows == 0) return y;
  const float* xp = x.data();
  const float* bp = bias_in.is_none() ? nullptr : bias.data();
  float* yp = y.mutable_data();
  py::gil_scoped_release release;
  (layers.*method)(name, xp, rows, bp, yp);
  return y;
}

template <class T>
py::array_t<T> to_array(const std::vector<T>& v, std::vector<py::ssize_t> shape) {
  py::array_t<T> a(shape);
  if (!v.empty()) std::memcpy(a.mutable_data(), v.data(), v.size() * sizeof(T));
  return a;
}

void bind_info_and_stats(py::module_& m) {
  py::class_<RemoteLayerInfo>(m, "RemoteLayerInfo")
      .def_readonly("name", &RemoteLayerInfo::name)
      .def_readonly("n_out", &RemoteLayerInfo::n_out)
      .def_readonly("n_in", &RemoteLayerInfo::n_in)
      .def_property_readonly("values",
                             [](const RemoteLayerInfo& i) {
                               return to_array(i.values, {static_cast<py::ssize_t>(i.n_out),
                                                          static_cast<py::ssize_t>(i.n_in)});
                             })
      .def_property_readonly("scales",
                             [](const RemoteLayerInfo& i) {
                               return to_array(i.scales, {static_cast<py::ssize_t>(i.n_out)});
                             })
      .def_property_readonly("row_sums", [](const RemoteLayerInfo& i) {
        return to_array(i.row_sums, {static_cast<py::ssize_t>(i.n_out)});
      });
  py::class_<RemoteLayersStats>(m, "RemoteLayersStats", "Figures since construction or reset_stats() (ms, bytes).")
      .def_readonly("simulate_calls", &RemoteLayersStats::simulate_calls)
      .def_readonly("execute_calls", &RemoteLayersStats::execute_calls)
      .def_readonly("rows", &RemoteLayersStats::rows)
      .def_readonly("simulate_ms", &RemoteLayersStats::simulate_ms)
      .def_readonly("execute_ms", &RemoteLayersStats::execute_ms)
      .def_readonly("server_ms", &RemoteLayersStats::server_ms)
      .def_readonly("network_ms", &RemoteLayersStats::network_ms)
      .def_readonly("client_ms", &RemoteLayersStats::client_ms)
      .def_readonly("bytes_up", &RemoteLayersStats::bytes_up)
      .def_readonly("bytes_down", &RemoteLayersStats::bytes_down)
      .def_readonly("key_bytes", &RemoteLayersStats::key_bytes)
      .def_readonly("session_open_ms", &RemoteLayersStats::session_open_ms);
}

}  // namespace

void bind_remote_layers(py::module_& m) {
  bind_info_and_stats(m);
  py::class_<RemoteLayers>(m, "RemoteLayers", R"(The remote linear layers of any model (include/fhellm/remote_layers.h):
add(name, W) quantizes W [n_out, n_in] as the engine does; simulate(name, x,
bias) and execute(name, x, bias) compute y = x W^T + b from x [rows, n_in]
(float32 numpy arrays). Names are the engine's group names: layers.N.qkv,
layers.N.attn_out, layers.N.mlp_up, layers.N.mlp_down, lm_head.)")
      .def(py::init([](int weight_bits, int activation_bits, const std::string& precision,
                       const std::string& architecture, std::uint32_t n_layers, std::uint32_t dim,
                       std::uint32_t vocab) {
             RemoteLayersOptions o;
             o.weight_bits = weight_bits;
             o.activation_bits = activation_bits;
             o.precision = precision;
             o.architecture = architecture;
             o.n_layers = n_layers;
             o.dim = dim;
             o.vocab = vocab;
             return std::make_unique<RemoteLayers>(o);
           }),
           py::kw_only(), py::arg("weight_bits") = 8, py::arg("activation_bits") = 8,
           py::arg("precision") = "default", py::arg("architecture") = "custom", py::arg("n_layers") = 0,
           py::arg("dim") = 0, py::arg("vocab") = 0)
      .def("add",
           [](RemoteLayers& l, const std::string& name, const py::handle& weight) {
             const auto w = checked_array<float>(weight, 2, "weight");
             const float* p = w.data();
             const auto n_out = static_cast<std::size_t>(w.shape(0)), n_in = static_cast<std::size_t>(w.shape(1));
             py::gil_scoped_release release;
             l.add(name, p, n_out, n_in);
           },
           py::arg("name"), py::arg("weight"))
      .def_property_readonly("names", &RemoteLayers::names)
      .def("info", &RemoteLayers::info, py::arg("name"), py::return_value_policy::copy)
      .def("simulate",
           [](RemoteLayers& l, const std::string& name, const py::handle& x, const py::handle& bias) {
             return apply(l, &RemoteLayers::simulate, name, x, bias);
           },
           py::arg("name"), py::arg("x"), py::arg("bias") = py::none())
      .def("execute",
           [](RemoteLayers& l, const std::string& name, const py::handle& x, const py::handle& bias) {
             return apply(l, &RemoteLayers::execute, name, x, bias);
           },
           py::arg("name"), py::arg("x"), py::arg("bias") = py::none())
      .def("connect",
           [](RemoteLayers& l, const std::string& url, double timeout) {
             py::gil_scoped_release release;
             l.connect(url, timeout);
           },
           py::arg("server_url") = "", py::arg("timeout") = 120.0)
      .def("disconnect", &RemoteLayers::disconnect)
      .def_property_readonly("connected", &RemoteLayers::connected)
      .def("save_server_artifact",
           [](const RemoteLayers& l, const std::string& path) {
             py::gil_scoped_release release;
             return l.save_server_artifact(path);
           },
           py::arg("path"))
      .def_property_readonly("stats", &RemoteLayers::stats)
      .def("reset_stats", &RemoteLayers::reset_stats);
}

}  // namespace fhellm::python
