// The parts of the extension module _fhellm, one file each.
#pragma once

#include <pybind11/pybind11.h>

#include <string>

namespace fhellm::python {

namespace py = pybind11;

void bind_client(py::module_& m);         // bind_client.cpp: Model, results, figures
void bind_server(py::module_& m);         // bind_server.cpp: Server
void bind_remote_layers(py::module_& m);  // bind_remote_layers.cpp: RemoteLayers (fhellm.torch's engine)
void bind_linear(py::module_& m);         // bind_linear.cpp: the submodule linear

// A remote-modules spec from a str ("default", "all-linear", "qkv,lm_head") or a list of str.
std::string remote_spec(const py::object& remote);

}  // namespace fhellm::python
