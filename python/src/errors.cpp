#include "errors.h"

#include <string>

namespace fhellm::python {
namespace py = pybind11;
namespace {

// The classes, created once at import (the module lives as long as the interpreter).
PyObject* g_base = nullptr;
PyObject* g_by_kind[8] = {};

PyObject* new_class(py::module_& m, const char* name, PyObject* bases, const char* doc) {
  const std::string qualified = std::string("fhellm.") + name;
  PyObject* cls = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases, nullptr);
  if (cls == nullptr) throw py::error_already_set();
  m.add_object(name, py::handle(cls));
  return cls;
}

PyObject* with_builtin(PyObject* builtin) {
  return builtin == nullptr ? py::make_tuple(py::handle(g_base)).release().ptr()
                            : py::make_tuple(py::handle(g_base), py::handle(builtin)).release().ptr();
}

// Sets the Python error for `e` (the GIL is held by the translator).
void set_python_error(const Error& e) {
  const int kind = static_cast<int>(e.kind());
  PyObject* cls = kind >= 1 && kind <= 7 && g_by_kind[kind] != nullptr ? g_by_kind[kind] : g_base;
  py::object instance = py::reinterpret_steal<py::object>(PyObject_CallFunction(cls, "s", e.what()));
  if (!instance) return;  // the call set its own error
  instance.attr("code") = static_cast<int>(e.code());
  instance.attr("code_name") = std::string(error_code_name(e.code()));
  static const char* kKinds[] = {"", "invalid_argument", "format", "protocol", "security", "io", "internal", "interrupted"};
  instance.attr("kind") = kKinds[kind >= 1 && kind <= 7 ? kind : 6];
  PyErr_SetObject(cls, instance.ptr());
}

}  // namespace

void register_errors(py::module_& m) {
  g_base = new_class(m, "Error", nullptr,
                     "An fhellm error: `code` (the stable number of fhellm::ErrorCode), `code_name` "
                     "(\"truncated\", \"bad_magic\", ...) and `kind`.");
  g_by_kind[static_cast<int>(ErrorKind::invalid_argument)] =
      new_class(m, "InvalidArgumentError", with_builtin(PyExc_ValueError), "A value out of its documented domain.");
  g_by_kind[static_cast<int>(ErrorKind::format)] =
      new_class(m, "FormatError", with_builtin(PyExc_ValueError), "A malformed file or serialized object.");
  g_by_kind[static_cast<int>(ErrorKind::protocol)] =
      new_class(m, "ProtocolError", with_builtin(nullptr), "A refused or malformed exchange with a server.");
  g_by_kind[static_cast<int>(ErrorKind::security)] =
      new_class(m, "SecurityError", with_builtin(nullptr), "A wrong key, a replay, parameters below the floor.");
  g_by_kind[static_cast<int>(ErrorKind::io)] =
      new_class(m, "IoError", with_builtin(PyExc_OSError), "A file or socket that could not be used.");
  g_by_kind[static_cast<int>(ErrorKind::internal)] =
      new_class(m, "InternalError", with_builtin(PyExc_RuntimeError), "A bug in fhellm.");
  g_by_kind[static_cast<int>(ErrorKind::interrupted)] =
      new_class(m, "Interrupted", with_builtin(nullptr), "The user stopped the work (Ctrl-C).");
  py::register_exception_translator([](std::exception_ptr p) {
    if (!p) return;
    try {
      std::rethrow_exception(p);
    } catch (const Error& e) {
      set_python_error(e);
    }
  });
  py::dict codes;
  for (int c = 0; c < 1000; ++c) {
    const std::string_view name = error_code_name(static_cast<ErrorCode>(c));
    if (!name.empty() && name != "unknown_error") codes[py::str(std::string(name))] = c;
  }
  m.attr("error_codes") = codes;
  // For the pure-Python modules: raises the exception of a code as the C++ side would.
  m.def(
      "_raise",
      [](int code, const std::string& message) { throw Error(static_cast<ErrorCode>(code), message); },
      py::arg("code"), py::arg("message"));
}

void throw_error(ErrorCode code, const std::string& message) {
  throw Error(code, message);
}

}  // namespace fhellm::python
