// LinearClient: the secret keys, encryption of activation rows into an
// upload and decryption of a reply (formats: src/he/linear.h).
#include <cmath>
#include <cstring>
#include <string>

#include "common/thread_pool.h"
#include "fhellm/error.h"
#include "he/decryptor.h"
#include "he/encryptor.h"
#include "he/linear.h"
#include "he/lookup_layout.h"
#include "he/linear_wire.h"
#include "he/linear_client_keys.h"
#include "he/linear_detail.h"

namespace fhellm::he {
namespace {

// How an input value becomes a plaintext coefficient mod q_i: Delta x (the
// trace's factor k_w is undone on the server, see linear_weights.cpp), and
// for mask residues round(Q x / t) = Delta x + round((Q mod t) x / t), which
// keeps (Q mod t) floor(x W^T / t) out of the phase (docs/online.md).
struct InputEncoder {
  std::vector<std::uint64_t> delta;  // Delta mod q_i
  std::uint64_t q_mod_t = 0, t = 1;  // rounding term (masks only; 0 otherwise)

  InputEncoder(const Context& ctx, const LinearPlan& plan)
      : delta(Scale::from_plain_modulus(ctx, plan.plain_modulus).delta_residues()) {
    if (linear_is_mask_precision(plan.precision)) {
      t = plan.plain_modulus;
      q_mod_t = ctx.coeff_basis().product().mod_word(t);
    }
  }
  std::uint64_t operator()(const math::Modulus& q, std::size_t i, std::int64_t x) const {
    const std::uint64_t scaled = q.mul(q.from_signed(x), delta[i]);
    if (q_mod_t == 0) return scaled;
    // x < t <= 2^16 and Q mod t < t: the product fits in 64 bits.
    const std::uint64_t extra = (q_mod_t * static_cast<std::uint64_t>(x) + t / 2) / t;
    return q.add(scaled, q.reduce(extra));
  }
};

}  // namespace


LinearClient::LinearClient(std::vector<ParamId> sets) {
  for (ParamId id : sets) {
    auto k = std::make_shared<SetKeys>();
    k->context = Context::get(id);
    k->secret = SecretKey::generate(*k->context);
    if (linear_shared_mask_available(id))
      for (std::size_t y = 0; y < kLinearSharedMaskGroup; ++y) k->targets.push_back(SecretKey::generate(*k->context));
    k->decryptors.emplace_back(k->context, k->secret);
    for (const SecretKey& t : k->targets) k->decryptors.emplace_back(k->context, t);
    keys_[id] = std::move(k);
  }
}

namespace {

// Galois keys for `elements`, one job per element on the default pool (each
// key draws its own seeds: RAND_bytes is thread-safe); with `light`, each
// key's masks (expandable from its seed: the server does) are dropped as soon
// as it is made, so a client holds half the bytes of each set it builds.
GaloisKeys galois_keys(const Context& ctx, const SecretKey& sk, std::span<const std::uint64_t> elements,
                       const Gadget& gadget, bool light) {
  std::vector<KeySwitchKey> made(elements.size());
  default_thread_pool().run(elements.size(), default_thread_pool().max_threads(), [&](std::size_t i) {
    GaloisKeys one = make_galois_keys(ctx, sk, elements.subspan(i, 1), gadget.bits, gadget.base);
    made[i] = one.get(elements[i]);
    if (light) {
      made[i].a.clear();
      made[i].a.shrink_to_fit();
    }
  });
  GaloisKeys out;
  for (std::size_t i = 0; i < elements.size(); ++i) out.insert(ctx.param_id(), elements[i], std::move(made[i]));
  return out;
}

}  // namespace

LinearSessionKeys LinearClient::session_keys(ParamId id, const SetKeys& k, bool light) const {
  LinearSessionKeys s;
  s.context = k.context;
  const std::size_t n = k.context->poly_degree();
  s.galois = galois_keys(*k.context, k.secret, packing_galois_elements(n), Gadget{linear_decomposition_bits(id)}, light);
  if (linear_composed_packing_available(id))
    s.galois_composed = galois_keys(*k.context, k.secret, packing_galois_elements(n), linear_packing_gadget(id), light);
  if (linear_input_decomposition_bits(id) > 0) {
    s.galois_input = galois_keys(*k.context, k.secret, linear_input_galois_elements(n), linear_input_gadget(id), light);
    s.galois_sequential = galois_keys(*k.context, k.secret, linear_sequential_galois_elements(n),
                                      linear_sequential_gadget(id), light);
  }
  s.zero = Encryptor(k.context, k.secret).encrypt_zero();
  if (!k.targets.empty())
    s.shared_mask = make_shared_mask_key(*k.context, k.secret, k.targets, linear_decomposition_bits(id));
  if (id == kLookupParamId) s.square = make_square_key(*k.context, k.secret, kLookupSquareKeyBits);
  return s;
}

LinearServerKeys LinearClient::server_keys() const {
  LinearServerKeys out;
  for (const auto& [id, k] : keys_) out.insert(session_keys(id, *k, false));
  return out;
}

std::vector<std::uint8_t> LinearClient::server_key_bytes() const {
  // Each set is made and written before the next: the peak is one set's keys
  // without their masks plus the bytes, not every set with its server-side
  // layouts (LinearServerKeys::insert) plus the bytes.
  std::vector<Bytes> parts;
  std::size_t total = 8;
  for (const auto& [id, k] : keys_) {
    Bytes part;
    ByteWriter w(part);
    detail::write_linear_key_set(w, session_keys(id, *k, true));
    total += part.size();
    parts.push_back(std::move(part));
  }
  Bytes out;
  out.reserve(total);
  ByteWriter w(out);
  detail::write_linear_keys_header(w, parts.size());
  for (Bytes& part : parts) {
    w.bytes(part);
    Bytes().swap(part);
  }
  return out;
}

std::vector<std::uint8_t> LinearClient::encrypt(std::span<const std::uint8_t> x, LinearShape shape,
                                                LinearPrecision precision, int privacy_bits) const {
  require(x.size() == std::size_t{shape.rows} * shape.in, ErrorCode::invalid_argument, "encrypt: X has the wrong size");
  std::vector<std::int32_t> v(x.begin(), x.end());
  return encrypt_impl(v.data(), shape, precision, false, privacy_bits);
}

std::vector<std::uint8_t> LinearClient::encrypt(std::span<const std::int8_t> x, LinearShape shape,
                                                LinearPrecision precision, int privacy_bits) const {
  require(x.size() == std::size_t{shape.rows} * shape.in, ErrorCode::invalid_argument, "encrypt: X has the wrong size");
  std::vector<std::int32_t> v(x.begin(), x.end());
  return encrypt_impl(v.data(), shape, precision, true, privacy_bits);
}

std::vector<std::uint8_t> LinearClient::encrypt_mask(std::span<const std::uint32_t> r, LinearShape shape,
                                                     LinearPrecision precision, int privacy_bits) const {
  require(linear_is_mask_precision(precision), ErrorCode::invalid_argument, "encrypt_mask: not a mask precision");
  require(r.size() == std::size_t{shape.rows} * shape.in, ErrorCode::invalid_argument,
          "encrypt_mask: R has the wrong size");
  const std::uint64_t t = precision == LinearPrecision::mask_table ? kOnlineTableModulus
                         : precision == LinearPrecision::mask_pow2 ? linear_online_modulus(shape.in).pow2
                                                                   : linear_online_modulus(shape.in).odd;
  std::vector<std::int32_t> v(r.size());
  bool in_range = true;
  for (std::size_t i = 0; i < r.size(); ++i) {
    in_range &= r[i] < t;
    v[i] = static_cast<std::int32_t>(r[i]);
  }
  if (!in_range) throw Error(ErrorCode::invalid_argument, "encrypt_mask: a residue is not below its modulus");
  return encrypt_impl(v.data(), shape, precision, false, privacy_bits);
}

std::vector<std::uint8_t> LinearClient::encrypt_impl(const std::int32_t* x, LinearShape shape,
                                                     LinearPrecision precision, bool input_signed,
                                                     int privacy_bits) const {
  const LinearPlan plan = plan_linear(shape, precision, input_signed, privacy_bits);
  auto it = keys_.find(plan.param_id);
  require(it != keys_.end(), ErrorCode::missing_galois_key,
          "client has no key for parameter set " + std::string(parameter_set(plan.param_id).name));
  const Context& ctx = *it->second->context;
  const Encryptor enc(it->second->context, it->second->secret);
  const LinearGeometry& geo = plan.geo;
  const InputEncoder encode(ctx, plan);
  const std::size_t k = ctx.moduli_count();

  Bytes out;
  ByteWriter w(out);
  wire::Header h;
  h.bits_a = static_cast<std::uint8_t>(plan.upload_bits);
  wire::write_header(w, h, plan);
  const std::uint64_t upload_modulus = std::uint64_t{1} << plan.upload_bits;
  // Each (row group, chunk) is encrypted on its own (a prompt's rows on every
  // thread: the server waits for them), then written in order.
  const std::size_t records = std::size_t{plan.call_row_groups()} * geo.chunks;
  std::vector<Seed> seeds(records);
  std::vector<std::vector<std::uint64_t>> values(records);
  parallel_for(records, 1, [&](std::size_t begin, std::size_t end) {
    for (std::size_t rec = begin; rec < end; ++rec) {
      const auto g = static_cast<std::uint32_t>(rec / geo.chunks), c = static_cast<std::uint32_t>(rec % geo.chunks);
      RnsPoly plain(ctx, false);
      for (std::uint32_t t = 0; t < geo.rows_per_ct; ++t) {
        const std::uint64_t row = std::uint64_t{g} * geo.rows_per_ct + t;
        if (row >= shape.rows) break;
        for (std::uint32_t j = 0; j < geo.chunk_width; ++j) {
          const std::uint64_t col = std::uint64_t{c} * geo.chunk_width + j;
          if (col >= shape.in) break;
          const std::int64_t xv = x[row * shape.in + col];
          for (std::size_t i = 0; i < k; ++i) plain.residues(i)[geo.input_coeff(t, j)] = encode(ctx.modulus(i), i, xv);
        }
      }
      // The body rounded to 2^u levels (the dropped bits are extra noise, see docs).
      SeededRoundedBody sc = enc.encrypt_poly_rounded(plain, upload_modulus);
      seeds[rec] = sc.seed;
      // Only the coefficients the useful outputs read (LinearGeometry::sent_positions).
      const auto sent = geo.sent_positions(g, c);
      values[rec].resize(sent.size());
      for (std::size_t i = 0; i < sent.size(); ++i) values[rec][i] = sc.body[sent[i]];
    }
  });
  for (std::size_t rec = 0; rec < records; ++rec) {
    w.bytes(ByteView(seeds[rec].data(), seeds[rec].size()));
    wire::write_values(w, values[rec], plan.upload_bits);
  }
  wire::finish(out);
  return out;
}

std::vector<std::int64_t> LinearClient::decrypt(std::span<const std::uint8_t> reply) const {
  std::vector<std::int64_t> y;
  read_reply(reply, nullptr, &y, nullptr);
  return y;
}

std::vector<double> LinearClient::measure_noise(std::span<const std::uint8_t> reply,
                                                std::span<const std::int64_t> expected) const {
  ByteReader r(reply, "linear reply");
  wire::Header h;
  wire::read_header_fields(r, true, h);
  require(expected.size() == std::size_t{h.shape.rows} * h.shape.out, ErrorCode::invalid_argument,
          "measure_noise: " + std::to_string(expected.size()) + " expected values for a reply of " +
              std::to_string(std::size_t{h.shape.rows} * h.shape.out));
  std::vector<double> noise;
  read_reply(reply, expected.data(), nullptr, &noise);
  return noise;
}

namespace {

__int128 to_i128(const math::WideInt& v) {  // v in [0, 2^127)
  return static_cast<__int128>((static_cast<unsigned __int128>(v.word(1)) << 64) | v.word(0));
}

// v mod q, centred in (-q/2, q/2].
__int128 centred_mod(__int128 v, __int128 q) {
  v %= q;
  if (v > q / 2) v -= q;
  if (v <= -q / 2) v += q;
  return v;
}

// An exact call's values from its evaluated rows (LinearPlan::companion_shift):
// row 2r's message a (|y - a| <= the standard floor), row 2r + 1's phase
// P = m Delta + rest; y = a + round(((P - 2^s Delta a) mod Q) / (2^s Delta)).
// With `expected` (noise studies), the companion rows' noise instead:
// (P - 2^s Delta y) mod Q; the standard rows' stays phase - Delta y.
std::vector<std::int64_t> join_companion_rows(const LinearPlan& plan, const Context& ctx, const Scale& scale,
                                              const std::vector<std::int64_t>& message,
                                              const std::vector<double>& rest, const std::int64_t* expected,
                                              std::vector<double>* noise) {
  const std::size_t out = plan.geo.shape.out, rows = plan.call_rows();
  const int s = plan.companion_shift;
  const __int128 q = to_i128(ctx.coeff_basis().product()), delta = to_i128(scale.delta());
  const long double step = static_cast<long double>(delta) * std::ldexp(1.0L, s);
  std::vector<std::int64_t> y(rows * out);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = 0; j < out; ++j) {
      const std::size_t a_at = 2 * r * out + j, c_at = (2 * r + 1) * out + j;
      const std::int64_t a = expected != nullptr ? expected[r * out + j] : message[a_at];
      const __int128 k = static_cast<__int128>(message[c_at]) - static_cast<__int128>(a) * (__int128{1} << s);
      long double left = static_cast<long double>(centred_mod(k * delta, q)) + rest[c_at];
      const long double q_ld = static_cast<long double>(q);
      if (left > q_ld / 2) left -= q_ld;  // measuring: rest is the whole centred phase
      if (left <= -q_ld / 2) left += q_ld;
      if (expected != nullptr) {
        (*noise)[c_at] = static_cast<double>(left);
        continue;
      }
      y[r * out + j] = a + static_cast<std::int64_t>(std::llround(left / step));
    }
  return y;
}

}  // namespace

void LinearClient::read_reply(std::span<const std::uint8_t> reply, const std::int64_t* expected,
                              std::vector<std::int64_t>* y_out, std::vector<double>* noise_out) const {
  ByteReader r(reply, "linear reply");
  wire::Header h;
  const LinearPlan plan = wire::read_header(r, true, h);
  std::vector<double> noise;
  std::vector<std::int64_t> y = decrypt_packed(r, plan, expected, &noise);
  r.expect_end();
  if (y_out != nullptr) *y_out = std::move(y);
  if (noise_out != nullptr) *noise_out = std::move(noise);
}

std::vector<std::int64_t> LinearClient::decrypt_packed(ByteReader& r, const LinearPlan& plan,
                                                       const std::int64_t* expected,
                                                       std::vector<double>* noise_out) const {
  auto it = keys_.find(plan.param_id);
  require(it != keys_.end(), ErrorCode::wrong_key, r.what() + ": no key for its parameter set");
  const Context& ctx = *it->second->context;
  const Scale scale = Scale::from_plain_modulus(ctx, plan.plain_modulus);
  const LinearGeometry& geo = plan.geo;
  const std::size_t n = ctx.poly_degree();
  const std::uint64_t qm = std::uint64_t{1} << plan.mask_bits;
  // A companion plan's two body widths meet at the wider one (a value v at
  // 2^b is v 2^(B - b) at 2^B: the same torus value).
  const int body_bits = std::max(plan.body_bits, plan.companion_body_bits);
  const std::uint64_t qb = std::uint64_t{1} << body_bits;
  std::vector<std::int64_t> y(std::size_t{geo.shape.rows} * geo.shape.out, 0);
  std::vector<double> noise(expected != nullptr ? y.size() : 0, 0.0);
  // A companion plan's evaluated rows: the companion rows' phase remainders.
  const bool companion = plan.companion_shift > 0;
  std::vector<double> rest(companion ? y.size() : 0, 0.0);
  if (companion) {
    // join_companion_rows multiplies (m - 2^s a) (< 2^(s + bits(t))) by Delta (~Q / t) in 128 bits.
    require(plan.companion_shift + ctx.coeff_basis().product().bit_length() <= 124, ErrorCode::parameter_mismatch,
            r.what() + ": exact rows of this parameter set overflow 128-bit arithmetic");
  }
  if (plan.shared_mask)
    require(it->second->targets.size() == kLinearSharedMaskGroup, ErrorCode::wrong_key,
            r.what() + ": shared-mask secrets missing");
  const std::vector<Decryptor>& decryptors = it->second->decryptors;
  // Read every record first (per group: the mask, then the bodies of its
  // packed cts, under targets 0, 1, ... when shared, under s when alone),
  // then decrypt the packed cts on every thread: each writes its own cells.
  const std::size_t total = geo.packed_cts();
  std::vector<std::vector<std::uint64_t>> masks;
  std::vector<std::size_t> mask_of(total);
  std::vector<std::vector<LinearGeometry::UsedCell>> used(total);
  std::vector<std::vector<std::uint64_t>> bodies(total);
  for (std::size_t f = 0; f < total; ++f) {
    if (plan.mask_group(f).first == f) masks.push_back(wire::read_values(r, n, plan.mask_bits, qm));
    mask_of[f] = masks.size() - 1;
    used[f] = geo.used_cells(f);
    if (plan.companion_shift == 0) {
      bodies[f] = wire::read_values(r, used[f].size(), plan.body_bits, qb);
      continue;
    }
    // The standard rows' values, then the companion rows' (ReplyWriter::write_bodies).
    std::size_t companions = 0;
    for (const auto& u : used[f]) companions += plan.is_companion_row(u.cell.row) ? 1 : 0;
    const auto standard = wire::read_values(r, used[f].size() - companions, plan.body_bits,
                                            std::uint64_t{1} << plan.body_bits);
    const auto narrow = wire::read_values(r, companions, plan.companion_body_bits,
                                          std::uint64_t{1} << plan.companion_body_bits);
    bodies[f].resize(used[f].size());
    std::size_t a = 0, c = 0;
    for (std::size_t i = 0; i < used[f].size(); ++i)
      bodies[f][i] = plan.is_companion_row(used[f][i].cell.row) ? narrow[c++] << (body_bits - plan.companion_body_bits)
                                                                : standard[a++] << (body_bits - plan.body_bits);
  }
  const auto at = [&](const LinearGeometry::UsedCell& u) {
    return std::size_t{u.cell.row} * geo.shape.out + u.cell.col;
  };
  parallel_for(total, 1, [&](std::size_t begin, std::size_t end) {
    std::vector<std::int64_t> want(expected != nullptr ? n : 0, 0);
    for (std::size_t f = begin; f < end; ++f) {
      const LinearPlan::MaskGroup group = plan.mask_group(f);
      SwitchedCiphertext sct;
      sct.param_id = plan.param_id;
      sct.body_modulus = qb;
      sct.mask_modulus = qm;
      sct.c1 = masks[mask_of[f]];
      sct.c0.assign(n, 0);
      for (std::size_t i = 0; i < used[f].size(); ++i) sct.c0[used[f][i].pos] = bodies[f][i];
      const Decryptor& dec = group.size == 1 ? decryptors[0] : decryptors[1 + (f - group.first)];
      // Companion rows decode to their phase (message and remainder), joined below.
      const auto expected_at = [&](const LinearGeometry::UsedCell& u) {
        return companion ? expected[(u.cell.row / 2) * geo.shape.out + u.cell.col] : expected[at(u)];
      };
      const bool measuring = expected != nullptr;
      if (measuring)
        for (const auto& u : used[f]) want[u.pos] = plan.is_companion_row(u.cell.row) ? 0 : expected_at(u);
      const Decrypted d = measuring ? dec.measure(sct, scale, want) : dec.decrypt(sct, scale);
      for (const auto& u : used[f]) {
        y[at(u)] = d.message[u.pos];
        if (plan.is_companion_row(u.cell.row)) rest[at(u)] = d.noise[u.pos];
        else if (measuring) noise[at(u)] = d.noise[u.pos];
      }
    }
  });
  if (companion) {
    const std::vector<std::int64_t> joined = join_companion_rows(plan, ctx, scale, y, rest, expected, &noise);
    if (expected == nullptr) y = joined;
  }
  if (noise_out != nullptr) *noise_out = std::move(noise);
  return y;
}

LinearMessageInfo peek_linear_upload(std::span<const std::uint8_t> upload) {
  ByteReader r(upload, "linear upload");
  wire::Header h;
  wire::read_header_fields(r, false, h);  // no planning: the caller checks the shape first
  return {h.shape, h.precision, h.input_signed, h.param_id, h.privacy_bits};
}

LinearMessageInfo peek_linear_reply(std::span<const std::uint8_t> reply) {
  ByteReader r(reply, "linear reply");
  wire::Header h;
  (void)read_header(r, true, h);
  return {h.shape, h.precision, h.input_signed, h.param_id};
}

}  // namespace fhellm::he
