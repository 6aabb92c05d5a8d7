// The extension module fhellm._fhellm; the package fhellm (python/fhellm/)
// re-exports it. docs/python.md.
#include <pybind11/pybind11.h>

#include "bindings.h"
#include "errors.h"
#include "fhellm/version.h"

PYBIND11_MODULE(_fhellm, m) {
  namespace python = fhellm::python;
  m.doc() = "fhellm: private LLM inference with homomorphic encryption (the C++ engine's bindings)";
  m.attr("__version__") = FHELLM_VERSION_STRING;
  python::register_errors(m);
  python::bind_client(m);
  python::bind_server(m);
  python::bind_remote_layers(m);
  auto linear = m.def_submodule("linear", "The encrypted matrix product itself (include/fhellm/linear.h)");
  python::bind_linear(linear);
}
