// The seam between the client's execute mode and whoever evaluates the remote
// linear layers.
//
//   client side                                  server side
//   execute backend --RemoteChannel-->  (wire or in-process)  --> RemoteService
//
// RemoteService is what a server holds: it opens a session from the client's
// public evaluation keys and answers linear calls on encrypted rows. It knows
// nothing about HTTP. RemoteChannel is what the client talks to: either an
// InProcessChannel wrapping a RemoteService in the same process, or the HTTP
// transport of src/net (net::HttpChannel). Both see opaque, self-describing
// byte blobs; their formats belong to the layers that produce them (the
// encrypted product and the artifact), the wire format to src/net.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/bytes.h"

namespace fhellm::hybrid {

// Mutable per-client state on the server (its evaluation keys, caches).
class RemoteSession {
 public:
  virtual ~RemoteSession() = default;
  // Bytes of server memory this session holds (its parsed keys, counted
  // object by object); the server checks it against what it reserved.
  virtual std::uint64_t memory_bytes() const = 0;
};

// What a linear call will cost, read from its header before any work.
struct CallCost {
  std::uint64_t rows = 0;  // rows queried on the weights (encrypted, or the online mode's masked rows): what per-key row budgets count
};

// What a server evaluates. Implementations must be safe to call from several
// threads at once for *different* sessions; calls on one session are
// serialized by the caller.
class RemoteService {
 public:
  virtual ~RemoteService() = default;

  // Public description of the model the server holds (architecture, layer
  // shapes, weight scales, parameter set): sent to every client on open.
  virtual Bytes description() const = 0;

  // The server memory a session opened with these keys will hold, from a
  // cheap look at them (no key is parsed): lets a server refuse a session
  // over its budget before paying for it.
  // @throws Error (format or security codes) for keys open_session would refuse
  //         by their sizes (another gadget width, unknown sets).
  virtual std::uint64_t session_memory_bytes(ByteView evaluation_keys) = 0;

  // Checks a call's header against the layers (ids, shape) without planning
  // or evaluating it, and returns its cost.
  // @throws Error(unknown_layer), Error(shape_mismatch) or a format code.
  virtual CallCost call_cost(std::span<const std::uint32_t> layer_ids, ByteView payload) const = 0;

  // Parses and validates the client's evaluation keys into a new session.
  // @throws Error (format or security codes) when the keys are malformed or
  //         made for another parameter set.
  virtual std::unique_ptr<RemoteSession> open_session(ByteView evaluation_keys) = 0;

  // One remote call: the layers `layer_ids` (sharing one input) applied to
  // the encrypted rows in `payload`; returns the encrypted results.
  // @throws Error(unknown_layer), Error(shape_mismatch) or a format code.
  virtual Bytes call(RemoteSession& session, std::span<const std::uint32_t> layer_ids,
                     ByteView payload) = 0;
};

// Traffic and time a channel has seen, for the summary line and --json.
struct ChannelStats {
  std::uint64_t n_calls = 0;           // linear calls (not counting open/close)
  std::uint64_t bytes_up = 0;          // request bytes of linear calls, wire framing included
  std::uint64_t bytes_down = 0;        // reply bytes of linear calls
  std::uint64_t session_bytes_up = 0;  // the open-session request (evaluation keys)
  std::uint64_t session_bytes_down = 0;
  double server_seconds = 0;   // time the server spent evaluating linear calls
  double network_seconds = 0;  // round trip minus server time (serialization, transport)
};

// What the client talks to.
class RemoteChannel {
 public:
  virtual ~RemoteChannel() = default;
  // Opens a session with the client's public evaluation keys; returns the
  // model description. @throws Error (server_unavailable, remote errors).
  virtual Bytes open_session(ByteView evaluation_keys) = 0;
  // One remote call on the open session. @throws Error.
  virtual Bytes call(std::span<const std::uint32_t> layer_ids, ByteView payload) = 0;
  // Ends the session (best effort; never throws).
  virtual void close() noexcept = 0;
  virtual ChannelStats stats() const = 0;
};

// A RemoteChannel that calls a RemoteService in this process: no copy of the
// payload beyond the reply itself, no serialization of the wire framing
// (bytes_up / bytes_down count the blobs only).
class InProcessChannel final : public RemoteChannel {
 public:
  // `service` must outlive the channel.
  explicit InProcessChannel(RemoteService& service) : service_(service) {}

  Bytes open_session(ByteView evaluation_keys) override;
  Bytes call(std::span<const std::uint32_t> layer_ids, ByteView payload) override;
  void close() noexcept override;
  ChannelStats stats() const override;

 private:
  RemoteService& service_;
  std::unique_ptr<RemoteSession> session_;
  ChannelStats stats_;
};

// An InProcessChannel that holds a share of its service (a server in this
// process, kept while a channel uses it).
class OwningInProcessChannel final : public RemoteChannel {
 public:
  explicit OwningInProcessChannel(std::shared_ptr<RemoteService> service)
      : service_(std::move(service)), channel_(*service_) {}
  Bytes open_session(ByteView keys) override { return channel_.open_session(keys); }
  Bytes call(std::span<const std::uint32_t> ids, ByteView payload) override { return channel_.call(ids, payload); }
  void close() noexcept override { channel_.close(); }
  ChannelStats stats() const override { return channel_.stats(); }

 private:
  std::shared_ptr<RemoteService> service_;  // declared first: outlives channel_
  InProcessChannel channel_;
};

}  // namespace fhellm::hybrid
