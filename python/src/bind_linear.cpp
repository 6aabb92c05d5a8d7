// fhellm.linear over fhellm::linear (include/fhellm/linear.h): the encrypted
// matrix product with numpy arrays and bytes, for people building their own
// protocols. Every call that computes releases the GIL.
#include <pybind11/stl.h>

#include <cstring>

#include "arrays.h"
#include "bindings.h"
#include "fhellm/linear.h"

namespace fhellm::python {
namespace {

py::bytes encrypt(const linear::Client& c, const py::handle& x_in, std::size_t out, const std::string& precision) {
  if (!py::isinstance<py::array>(x_in))
    throw_error(ErrorCode::invalid_argument, "x must be a numpy array of uint8 or int8 [rows, in]");
  const auto a = py::reinterpret_borrow<py::array>(x_in);
  std::vector<std::uint8_t> upload;
  if (a.dtype().kind() == 'i' && a.dtype().itemsize() == 1) {
    const auto x = checked_array<std::int8_t>(x_in, 2, "x");
    const std::int8_t* p = x.data();
    const auto rows = static_cast<std::size_t>(x.shape(0)), in = static_cast<std::size_t>(x.shape(1));
    py::gil_scoped_release release;
    upload = c.encrypt(p, rows, in, out, precision);
  } else {
    const auto x = checked_array<std::uint8_t>(x_in, 2, "x");  // names uint8 (or int8) on a wrong dtype
    const std::uint8_t* p = x.data();
    const auto rows = static_cast<std::size_t>(x.shape(0)), in = static_cast<std::size_t>(x.shape(1));
    py::gil_scoped_release release;
    upload = c.encrypt(p, rows, in, out, precision);
  }
  return to_bytes(upload);
}

py::array_t<std::int64_t> decrypt(const linear::Client& c, const py::handle& reply_in) {
  const ByteInput reply(reply_in, "reply");
  linear::Product p;
  {
    py::gil_scoped_release release;
    p = c.decrypt(reply.span());
  }
  py::array_t<std::int64_t> y({static_cast<py::ssize_t>(p.rows), static_cast<py::ssize_t>(p.out)});
  std::memcpy(y.mutable_data(), p.values.data(), p.values.size() * sizeof(std::int64_t));
  return y;
}

py::dict message_info(const linear::MessageInfo& m) {
  py::dict d;
  d["rows"] = m.rows;
  d["in"] = m.in;
  d["out"] = m.out;
  d["precision"] = m.precision;
  d["input_signed"] = m.input_signed;
  return d;
}

}  // namespace

void bind_linear(py::module_& m) {
  m.attr("MAX_ROWS") = linear::kMaxRows;
  m.attr("MAX_IN") = linear::kMaxIn;
  m.attr("MAX_OUT") = linear::kMaxOut;
  py::class_<linear::Client>(m, "Client", R"(The client of the encrypted product: fresh secret keys (they never leave
this object). server_keys() -> bytes (public, once per session);
encrypt(x, out) -> bytes for x a uint8 or int8 array [rows, in];
decrypt(reply) -> int64 array [rows, out].)")
      .def(py::init([] {
        py::gil_scoped_release release;
        return std::make_unique<linear::Client>();
      }))
      .def("server_keys",
           [](const linear::Client& c) {
             std::vector<std::uint8_t> keys;
             {
               py::gil_scoped_release release;
               keys = c.server_keys();
             }
             return to_bytes(keys);
           })
      .def("encrypt", &encrypt, py::arg("x"), py::arg("out"), py::arg("precision") = "default")
      .def("decrypt", &decrypt, py::arg("reply"));
  py::class_<linear::ServerKeys>(m, "ServerKeys", "A session's evaluation keys (Client.server_keys()), parsed once.")
      .def(py::init([](const py::handle& bytes) {
             const ByteInput in(bytes, "keys");
             py::gil_scoped_release release;
             return std::make_unique<linear::ServerKeys>(in.span());
           }),
           py::arg("keys"));
  py::class_<linear::Weights>(m, "Weights", "W, an int8 array [out, in], encoded once for each precision given.")
      .def(py::init([](const py::handle& w_in, const std::vector<std::string>& precisions) {
             const auto w = checked_array<std::int8_t>(w_in, 2, "weights");
             const std::int8_t* p = w.data();
             const auto out = static_cast<std::size_t>(w.shape(0)), in = static_cast<std::size_t>(w.shape(1));
             py::gil_scoped_release release;
             return std::make_unique<linear::Weights>(p, out, in, precisions);
           }),
           py::arg("weights"), py::arg("precisions") = std::vector<std::string>{"default"})
      .def_property_readonly("out", &linear::Weights::out)
      .def_property_readonly("in_", &linear::Weights::in)
      .def_property_readonly("shape", [](const linear::Weights& w) { return py::make_tuple(w.out(), w.in()); })
      .def_property_readonly("encoded_bytes", &linear::Weights::encoded_bytes);
  m.def(
      "evaluate",
      [](const py::handle& upload_in, const linear::Weights& w, const linear::ServerKeys& k, std::size_t threads) {
        const ByteInput upload(upload_in, "upload");
        std::vector<std::uint8_t> reply;
        {
          py::gil_scoped_release release;
          reply = linear::evaluate(upload.span(), w, k, threads);
        }
        return to_bytes(reply);
      },
      py::arg("upload"), py::arg("weights"), py::arg("keys"), py::arg("threads") = 1,
      "The server's product: the encrypted reply to upload (bytes).");
  m.def(
      "peek_upload", [](const py::handle& b) { return message_info(linear::peek_upload(ByteInput(b, "upload").span())); },
      py::arg("upload"));
  m.def(
      "peek_reply", [](const py::handle& b) { return message_info(linear::peek_reply(ByteInput(b, "reply").span())); },
      py::arg("reply"));
}

}  // namespace fhellm::python
