// LinearClient's side of the embedding lookup (lookup.h): the one-hot and
// select records of each id, and the decryption of the reply.
#include <string>

#include "common/thread_pool.h"
#include "fhellm/error.h"
#include "he/coefficient_rounding.h"
#include "he/encryptor.h"
#include "he/linear_client_keys.h"
#include "he/linear_wire.h"
#include "he/lookup.h"
#include "he/lookup_wire.h"

namespace fhellm::he {
namespace {

// The select record's plaintext: coefficient (t D + d) 2^a holds bit t of
// `chunk` times gadget element d (2^(w j) in prime i only, KeySwitchKey's
// order), a the plan's trace levels.
RnsPoly select_plain(const Context& ctx, const LookupPlan& plan, std::uint32_t chunk) {
  RnsPoly plain(ctx, false);
  const std::vector<std::size_t> digits = gadget_digits(ctx, plan.select_decomposition_bits);
  for (int t = 0; t < plan.select_bits; ++t) {
    if (((chunk >> t) & 1) == 0) continue;
    std::size_t d = 0;
    for (std::size_t i = 0; i < ctx.moduli_count(); ++i)
      for (std::size_t j = 0; j < digits[i]; ++j, ++d) {
        const std::uint64_t g = ctx.modulus(i).pow(2, static_cast<std::uint64_t>(plan.select_decomposition_bits) * j);
        plain.residues(i)[(static_cast<std::size_t>(t) * plan.select_digits + d) << plan.select_sparse_levels] = g;
      }
  }
  return plain;
}

}  // namespace

std::vector<std::uint8_t> LinearClient::encrypt_lookup(std::span<const std::uint32_t> ids, LookupShape shape,
                                                       int value_bits) const {
  require(ids.size() == shape.rows, ErrorCode::invalid_argument,
          "lookup: " + std::to_string(ids.size()) + " ids for a shape of " + std::to_string(shape.rows) + " rows");
  const LookupPlan plan = plan_lookup(shape, value_bits);
  for (std::uint32_t id : ids)
    require(id < shape.table_rows, ErrorCode::invalid_argument,
            "lookup: id " + std::to_string(id) + " outside a table of " + std::to_string(shape.table_rows) + " rows");
  auto it = keys_.find(plan.linear.param_id);
  require(it != keys_.end(), ErrorCode::missing_galois_key, "lookup: no key for its parameter set");
  const Context& ctx = *it->second->context;
  const Encryptor enc(it->second->context, it->second->secret);
  const LinearGeometry& geo = plan.linear.geo;
  const auto delta = Scale::from_plain_modulus(ctx, plan.linear.plain_modulus).delta_residues();
  const std::uint64_t upload_modulus = std::uint64_t{1} << plan.linear.upload_bits;
  const auto sent = geo.sent_positions(0, 0);  // the first min(V, N) coefficients
  const std::vector<std::uint32_t> select_positions = plan.select_positions();

  // Each id's records are made on its own (a prompt's ids on every thread),
  // then written in order.
  struct Records {
    Seed one_hot_seed{}, select_seed{};
    std::vector<std::uint64_t> one_hot, select;
  };
  std::vector<Records> records(ids.size());
  const CrtWord crt(ctx);  // the select record's c0 mod Q exactly (Q < 2^54)
  parallel_for(ids.size(), 1, [&](std::size_t begin, std::size_t end) {
    for (std::size_t k = begin; k < end; ++k) {
      const std::uint32_t id = ids[k];
      Records& rec = records[k];
      // One-hot: Delta at the id's position in its chunk.
      RnsPoly plain(ctx, false);
      for (std::size_t i = 0; i < ctx.moduli_count(); ++i) plain.residues(i)[id % geo.poly_degree] = delta[i];
      const SeededRoundedBody one_hot = enc.encrypt_poly_rounded(plain, upload_modulus);
      rec.one_hot_seed = one_hot.seed;
      rec.one_hot.resize(sent.size());
      for (std::size_t i = 0; i < sent.size(); ++i) rec.one_hot[i] = one_hot.body[sent[i]];
      if (plan.select_bits == 0) continue;
      const SeededCiphertext select = enc.encrypt_poly_seeded(select_plain(ctx, plan, id / geo.poly_degree));
      RnsPoly c0 = select.c0;
      from_ntt(c0, ctx);
      rec.select_seed = select.seed;
      // Each sent coefficient as one integer in [0, Q).
      rec.select.resize(select_positions.size());
      for (std::size_t i = 0; i < rec.select.size(); ++i) rec.select[i] = crt(c0, select_positions[i]);
    }
  });
  Bytes out;
  ByteWriter w(out);
  wire::write_lookup_header(w, plan, false);
  for (const Records& rec : records) {
    w.bytes(ByteView(rec.one_hot_seed.data(), rec.one_hot_seed.size()));
    wire::write_values(w, rec.one_hot, plan.linear.upload_bits);
    if (plan.select_bits == 0) continue;
    w.bytes(ByteView(rec.select_seed.data(), rec.select_seed.size()));
    wire::write_values(w, rec.select, wire::lookup_select_value_bits(plan));
  }
  wire::finish(out);
  return out;
}

std::vector<std::int64_t> LinearClient::decrypt_lookup(std::span<const std::uint8_t> reply) const {
  ByteReader r(reply, "lookup reply");
  const LookupPlan plan = wire::read_lookup_header(r, true);
  std::vector<std::int64_t> rows = decrypt_packed(r, plan.linear);
  r.expect_end();
  return rows;
}

std::vector<double> LinearClient::measure_lookup_noise(std::span<const std::uint8_t> reply,
                                                       std::span<const std::int64_t> expected) const {
  ByteReader r(reply, "lookup reply");
  const LookupPlan plan = wire::read_lookup_header(r, true);
  require(expected.size() == std::size_t{plan.shape.rows} * plan.shape.width, ErrorCode::invalid_argument,
          "measure_lookup_noise: " + std::to_string(expected.size()) + " expected values for a reply of " +
              std::to_string(std::size_t{plan.shape.rows} * plan.shape.width));
  std::vector<double> noise;
  (void)decrypt_packed(r, plan.linear, expected.data(), &noise);
  r.expect_end();
  return noise;
}

}  // namespace fhellm::he
