// fhellm::Error as Python exceptions: fhellm.Error carries the stable error
// code (`code`, its name `code_name`, its `kind`); one subclass per kind,
// also deriving from the matching built-in (InvalidArgumentError is a
// ValueError, IoError an OSError, ...) so that ordinary except clauses work.
#pragma once

#include <pybind11/pybind11.h>

#include "fhellm/error.h"

namespace fhellm::python {

// Creates the exception classes in `m` and registers the translator of
// fhellm::Error (any other C++ exception keeps pybind11's translation).
void register_errors(pybind11::module_& m);

// Raises the Python exception of `code` with `message` (for checks the
// bindings make themselves: dtypes, shapes).
[[noreturn]] void throw_error(ErrorCode code, const std::string& message);

}  // namespace fhellm::python
