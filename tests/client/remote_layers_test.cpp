// fhellm::RemoteLayers (include/fhellm/remote_layers.h) and fhellm::linear
// (include/fhellm/linear.h) from C++: what the Python package runs on.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "fhellm/linear.h"
#include "fhellm/remote_layers.h"
#include "fhellm/server.h"

namespace fhellm {
namespace {

std::vector<float> random_floats(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

ErrorCode code_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return ErrorCode::internal_error;  // nothing thrown
}

TEST(RemoteLayers, ExecuteEqualsSimulateAtExactPrecisionInProcessAndServed) {
  RemoteLayersOptions o;
  o.precision = "exact";
  RemoteLayers layers(o);
  const std::vector<float> w1 = random_floats(48 * 20, 1), w2 = random_floats(5 * 48, 2), b2 = random_floats(5, 3);
  layers.add("layers.0.qkv", w1.data(), 48, 20);
  layers.add("lm_head", w2.data(), 5, 48);
  EXPECT_EQ(layers.names(), (std::vector<std::string>{"layers.0.qkv", "lm_head"}));
  EXPECT_EQ(layers.info("lm_head").values.size(), 5u * 48u);
  const std::vector<float> x = random_floats(3 * 20, 4);
  std::vector<float> h(3 * 48), sim(3 * 5), exe(3 * 5);
  layers.simulate("layers.0.qkv", x.data(), 3, nullptr, h.data());
  layers.simulate("lm_head", h.data(), 3, b2.data(), sim.data());

  layers.connect();  // a server in this process
  layers.execute("lm_head", h.data(), 3, b2.data(), exe.data());
  EXPECT_EQ(exe, sim);
  EXPECT_GT(layers.stats().bytes_up, 0u);
  EXPECT_EQ(layers.stats().execute_calls, 1u);

  // A name of its own: other checkouts may run this test at the same time.
  const auto path = std::filesystem::temp_directory_path() /
                    ("fhellm_remote_layers_test_" + std::to_string(std::random_device{}()) + ".server");
  EXPECT_GT(layers.save_server_artifact(path.string()), 0u);
  ServerOptions so;
  so.artifact = path.string();
  so.port = 0;
  so.precisions = {"exact"};
  Server server(so);
  server.start();
  layers.connect(server.url());
  std::fill(exe.begin(), exe.end(), 0.0f);
  layers.execute("lm_head", h.data(), 3, b2.data(), exe.data());
  EXPECT_EQ(exe, sim);
  layers.disconnect();
  server.stop();
  std::filesystem::remove(path);
}

TEST(RemoteLayers, RefusesBadNamesShapesAndOrder) {
  RemoteLayers layers;
  const std::vector<float> w = random_floats(16, 5);
  for (const char* bad : {"layer.0.qkv", "layers.x.qkv", "layers.1024.qkv", "layers.0.gate", "layers.0.qkv.", ""})
    EXPECT_EQ(code_of([&] { layers.add(bad, w.data(), 4, 4); }), ErrorCode::invalid_argument) << bad;
  EXPECT_EQ(code_of([&] { layers.add("layers.0.qkv", w.data(), 0, 4); }), ErrorCode::shape_mismatch);
  EXPECT_EQ(code_of([&] { layers.add("layers.0.qkv", w.data(), 2, 9000); }), ErrorCode::shape_mismatch);
  EXPECT_EQ(code_of([&] { layers.connect(); }), ErrorCode::invalid_argument);  // no layer
  layers.add("layers.0.qkv", w.data(), 4, 4);
  EXPECT_EQ(code_of([&] { layers.add("layers.0.qkv", w.data(), 4, 4); }), ErrorCode::invalid_argument);
  std::vector<float> y(4);
  EXPECT_EQ(code_of([&] { layers.execute("layers.0.qkv", w.data(), 1, nullptr, y.data()); }),
            ErrorCode::invalid_argument);  // not connected
  EXPECT_EQ(code_of([&] { layers.simulate("lm_head", w.data(), 1, nullptr, y.data()); }), ErrorCode::unknown_layer);
  std::vector<float> nan_row(4, std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(code_of([&] { layers.simulate("layers.0.qkv", nan_row.data(), 1, nullptr, y.data()); }),
            ErrorCode::bad_quantization);
  layers.connect();
  EXPECT_EQ(code_of([&] { layers.add("layers.0.mlp_up", w.data(), 4, 4); }), ErrorCode::invalid_argument);
}

TEST(LinearApi, RoundTripIsExactAndHostileRepliesAreRefused) {
  linear::Client client;
  const linear::ServerKeys keys(client.server_keys());
  std::vector<std::int8_t> w(7 * 30);
  std::vector<std::uint8_t> x(2 * 30);
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<std::int8_t>(static_cast<int>(i * 37 % 255) - 127);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<std::uint8_t>(i * 91 % 256);
  const linear::Weights weights(w.data(), 7, 30, {"exact"});
  const auto upload = client.encrypt(x.data(), 2, 30, 7, "exact");
  EXPECT_EQ(linear::peek_upload(upload).in, 30u);
  const auto reply = linear::evaluate(upload, weights, keys, 2);
  const linear::Product y = client.decrypt(reply);
  ASSERT_EQ(y.rows, 2u);
  ASSERT_EQ(y.out, 7u);
  for (std::size_t t = 0; t < 2; ++t) {
    for (std::size_t i = 0; i < 7; ++i) {
      std::int64_t s = 0;
      for (std::size_t j = 0; j < 30; ++j) s += std::int64_t{x[t * 30 + j]} * w[i * 30 + j];
      EXPECT_EQ(y.values[t * 7 + i], s);
    }
  }
  auto cut = reply;
  cut.resize(cut.size() - 3);
  EXPECT_EQ(code_of([&] { client.decrypt(cut); }), ErrorCode::truncated);
  EXPECT_EQ(code_of([&] { client.encrypt(x.data(), 0, 30, 7); }), ErrorCode::shape_mismatch);
  // Exact calls ride on the default encoding: weights encoded for "default" serve them.
  const linear::Weights default_only(w.data(), 7, 30);
  EXPECT_EQ(client.decrypt(linear::evaluate(upload, default_only, keys)).values, y.values);
}

}  // namespace
}  // namespace fhellm
