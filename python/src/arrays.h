// numpy arrays in and out of the bindings: the dtype is checked, never cast
// (a float64 array where float32 is expected is an error, not a silent
// copy), the number of dimensions and each fixed extent too; a
// non-contiguous array is copied to a C-contiguous one.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "errors.h"

namespace fhellm::python {

namespace py = pybind11;

template <class T>
const char* dtype_name() {
  if constexpr (std::is_same_v<T, float>) return "float32";
  if constexpr (std::is_same_v<T, std::uint8_t>) return "uint8";
  if constexpr (std::is_same_v<T, std::int8_t>) return "int8";
  if constexpr (std::is_same_v<T, std::int64_t>) return "int64";
  return "?";
}

template <class T>
char dtype_kind() {
  if constexpr (std::is_floating_point_v<T>) return 'f';
  if constexpr (std::is_unsigned_v<T>) return 'u';
  return 'i';
}

// `value` as a C-contiguous array of T with `ndim` dimensions.
// @throws fhellm.InvalidArgumentError for another type or dtype,
//         ShapeMismatch-coded errors for other dimensions
template <class T>
py::array_t<T, py::array::c_style> checked_array(const py::handle& value, int ndim, const std::string& what) {
  if (!py::isinstance<py::array>(value)) {
    throw_error(ErrorCode::invalid_argument,
                what + " must be a numpy array of " + dtype_name<T>() + ", got " +
                    std::string(py::str(py::type::handle_of(value).attr("__name__"))));
  }
  const auto a = py::reinterpret_borrow<py::array>(value);
  if (a.dtype().kind() != dtype_kind<T>() || a.dtype().itemsize() != static_cast<py::ssize_t>(sizeof(T))) {
    throw_error(ErrorCode::invalid_argument, what + " must have dtype " + dtype_name<T>() + ", got " +
                                                 std::string(py::str(a.dtype())));
  }
  if (a.ndim() != ndim) {
    throw_error(ErrorCode::shape_mismatch, what + " must have " + std::to_string(ndim) + " dimension(s), got " +
                                               std::to_string(a.ndim()));
  }
  return py::array_t<T, py::array::c_style>::ensure(a);
}

// A new C-contiguous array of T with the given shape (uninitialized).
template <class T>
py::array_t<T> new_array(std::vector<py::ssize_t> shape) {
  return py::array_t<T>(shape);
}

// bytes, bytearray or any contiguous buffer of bytes, held while in use.
struct ByteInput {
  py::buffer_info info;
  explicit ByteInput(const py::handle& value, const std::string& what) {
    if (!PyObject_CheckBuffer(value.ptr()) || py::isinstance<py::str>(value)) {
      throw_error(ErrorCode::invalid_argument, what + " must be bytes");
    }
    info = py::reinterpret_borrow<py::buffer>(value).request();
    if (info.itemsize != 1 || info.ndim > 1 || (info.ndim == 1 && info.strides[0] != 1)) {
      throw_error(ErrorCode::invalid_argument, what + " must be contiguous bytes");
    }
  }
  std::span<const std::uint8_t> span() const {
    return {static_cast<const std::uint8_t*>(info.ptr), static_cast<std::size_t>(info.size)};
  }
};

inline py::bytes to_bytes(const std::vector<std::uint8_t>& v) {
  return py::bytes(reinterpret_cast<const char*>(v.data()), v.size());
}

}  // namespace fhellm::python
