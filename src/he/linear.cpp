#include "fhellm/he/linear.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>
#include <type_traits>
#include <cmath>
#include <cstring>
#include <functional>
#include <mutex>
#include <memory>
#include <map>
#include <condition_variable>
#include <optional>

#include <malloc.h>
#include <unistd.h>

#include "fhellm/error.h"
#include "fhellm/he/accumulator.h"
#include "fhellm/he/bit_packing.h"
#include "fhellm/he/decryptor.h"
#include "fhellm/he/encryptor.h"
#include "fhellm/he/evaluator.h"
#include "fhellm/he/hoisted_galois.h"
#include "fhellm/he/linear_reference.h"
#include "fhellm/he/prng.h"
#include "fhellm/he/serialization.h"
#include "fhellm/math/ntt.h"
#include "fhellm/math/poly_arith.h"
#include "fhellm/math/wide_int.h"

namespace fhellm::he {
namespace {

constexpr std::uint8_t kUploadMagic[4] = {'F', 'H', 'L', 'U'};
constexpr std::uint8_t kReplyMagic[4] = {'F', 'H', 'L', 'R'};
constexpr std::uint8_t kKeysMagic[4] = {'F', 'H', 'L', 'K'};
constexpr std::uint64_t kMaxLinearMessage = std::uint64_t{1} << 31;

// ---- little-endian writer / checked reader --------------------------------
struct Writer {
  std::vector<std::uint8_t> out;
  void u8(std::uint8_t v) { out.push_back(v); }
  void u16(std::uint16_t v) { for (int i = 0; i < 2; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i))); }
  void u32(std::uint32_t v) { for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i))); }
  void u64(std::uint64_t v) { for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i))); }
  void bytes(const std::uint8_t* p, std::size_t n) { out.insert(out.end(), p, p + n); }
  void zeros(std::size_t n) { out.insert(out.end(), n, 0); }
};

struct Reader {
  std::span<const std::uint8_t> in;
  std::size_t pos = 0;
  const char* what;
  void need(std::size_t n) const {
    // The message is built only on failure (this runs for every field).
    if (n > in.size() - pos)
      throw Error(ErrorCode::truncated, std::string(what) + ": needs " + std::to_string(n) + " more bytes at offset " +
                                            std::to_string(pos) + ", " + std::to_string(in.size() - pos) + " left");
  }
  std::uint64_t le(int n) {
    need(n);
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= std::uint64_t{in[pos + i]} << (8 * i);
    pos += n;
    return v;
  }
  std::span<const std::uint8_t> take(std::size_t n) {
    need(n);
    auto s = in.subspan(pos, n);
    pos += n;
    return s;
  }
};

struct Header {
  bool reply = false;
  LinearPrecision precision{};
  LinearObjective objective = LinearObjective::balanced;
  bool input_signed = false;
  ParamId param_id{};
  LinearShape shape;
  std::uint32_t chunk_width = 0, rows_per_ct = 0;
  std::uint8_t bits_a = 0, bits_b = 0;  // upload: u, 0; reply: body, mask
};

void write_header(Writer& w, const Header& h, const LinearPlan& plan) {
  w.bytes(h.reply ? kReplyMagic : kUploadMagic, 4);
  w.u16(kLinearFormatVersion);
  w.u8(static_cast<std::uint8_t>(plan.precision));
  w.u8(plan.input_signed ? 1 : 0);
  w.u16(static_cast<std::uint16_t>(plan.param_id));
  w.u16(static_cast<std::uint16_t>(plan.objective));
  w.u32(plan.geo.shape.rows);
  w.u32(plan.geo.shape.in);
  w.u32(plan.geo.shape.out);
  w.u32(plan.geo.chunk_width);
  w.u32(plan.geo.rows_per_ct);
  w.u8(h.bits_a);
  w.u8(h.bits_b);
  w.zeros(6);
  w.u64(0);  // payload size, patched by finish()
}

void finish(Writer& w) {
  const std::uint64_t payload = w.out.size() - kLinearHeaderBytes;
  for (int i = 0; i < 8; ++i) w.out[40 + i] = static_cast<std::uint8_t>(payload >> (8 * i));
}

// Parses and validates a header, then recomputes the plan and checks that
// every layout field agrees with it.
LinearPlan read_header(Reader& r, bool reply, Header& h) {
  const auto magic = r.take(4);
  require(std::memcmp(magic.data(), reply ? kReplyMagic : kUploadMagic, 4) == 0, ErrorCode::bad_magic,
          std::string(r.what) + ": bad magic");
  const auto version = r.le(2);
  require(version == kLinearFormatVersion, ErrorCode::bad_version,
          std::string(r.what) + ": version " + std::to_string(version) + ", expected " +
              std::to_string(kLinearFormatVersion));
  const auto prec = r.le(1);
  require(prec == 1 || prec == 2, ErrorCode::bad_message, std::string(r.what) + ": bad precision " + std::to_string(prec));
  h.precision = static_cast<LinearPrecision>(prec);
  const auto sgn = r.le(1);
  require(sgn <= 1, ErrorCode::bad_message, std::string(r.what) + ": bad signedness flag");
  h.input_signed = sgn == 1;
  h.param_id = param_id_from_u16(static_cast<std::uint16_t>(r.le(2)));
  const auto objective = r.le(2);
  require(objective <= 1, ErrorCode::bad_message, std::string(r.what) + ": bad objective " + std::to_string(objective));
  h.objective = static_cast<LinearObjective>(objective);
  h.shape.rows = static_cast<std::uint32_t>(r.le(4));
  h.shape.in = static_cast<std::uint32_t>(r.le(4));
  h.shape.out = static_cast<std::uint32_t>(r.le(4));
  require(h.shape.rows >= 1 && h.shape.rows <= kLinearMaxRows && h.shape.in >= 1 && h.shape.in <= kLinearMaxIn &&
              h.shape.out >= 1 && h.shape.out <= kLinearMaxOut,
          ErrorCode::shape_mismatch,
          std::string(r.what) + ": shape T=" + std::to_string(h.shape.rows) + " k=" + std::to_string(h.shape.in) +
              " n=" + std::to_string(h.shape.out) + " out of range");
  h.chunk_width = static_cast<std::uint32_t>(r.le(4));
  h.rows_per_ct = static_cast<std::uint32_t>(r.le(4));
  h.bits_a = static_cast<std::uint8_t>(r.le(1));
  h.bits_b = static_cast<std::uint8_t>(r.le(1));
  for (int i = 0; i < 6; ++i)
    require(r.le(1) == 0, ErrorCode::bad_message, std::string(r.what) + ": reserved field not zero");
  const std::uint64_t payload = r.le(8);
  require(payload <= kMaxLinearMessage, ErrorCode::length_too_large, std::string(r.what) + ": payload too large");
  require(payload <= r.in.size() - r.pos, ErrorCode::truncated,
          std::string(r.what) + ": payload of " + std::to_string(payload) + " bytes, " +
              std::to_string(r.in.size() - r.pos) + " present");
  require(payload == r.in.size() - r.pos, ErrorCode::trailing_bytes, std::string(r.what) + ": trailing bytes");

  LinearPlan plan = plan_linear(h.shape, h.precision, h.input_signed, h.objective);
  require(plan.param_id == h.param_id, ErrorCode::parameter_mismatch,
          std::string(r.what) + ": parameter set " + std::to_string(static_cast<int>(h.param_id)) +
              " but this shape uses " + std::string(parameter_set(plan.param_id).name));
  require(plan.geo.chunk_width == h.chunk_width && plan.geo.rows_per_ct == h.rows_per_ct, ErrorCode::parameter_mismatch,
          std::string(r.what) + ": layout k_w=" + std::to_string(h.chunk_width) + " T_w=" +
              std::to_string(h.rows_per_ct) + " differs from the plan");
  if (!reply) {
    require(h.bits_a == plan.upload_bits && h.bits_b == 0, ErrorCode::parameter_mismatch,
            std::string(r.what) + ": upload width differs from the plan");
  } else {
    require(h.bits_a == plan.body_bits && h.bits_b == plan.mask_bits, ErrorCode::parameter_mismatch,
            std::string(r.what) + ": reply widths differ from the plan");
  }
  return plan;
}

// Reads `count` values of `width` bits (padded to a byte), each < limit.
std::vector<std::uint64_t> read_values(Reader& r, std::size_t count, int width, std::uint64_t limit) {
  const auto raw = r.take(packed_size_bytes(count, width));
  std::vector<std::uint64_t> v(count);
  unpack_bits(raw.data(), count, width, v.data());
  for (std::size_t i = 0; i < count; ++i)
    if (v[i] >= limit)
      throw Error(ErrorCode::coefficient_out_of_range,
                  std::string(r.what) + ": coefficient " + std::to_string(i) + " out of range");
  // Padding bits must be zero (canonical encoding).
  const std::size_t used_bits = count * static_cast<std::size_t>(width);
  if (used_bits % 8 != 0)
    require((raw.back() >> (used_bits % 8)) == 0, ErrorCode::bad_message, std::string(r.what) + ": padding not zero");
  return v;
}

void write_values(Writer& w, const std::vector<std::uint64_t>& v, int width) {
  const std::size_t start = w.out.size();
  w.zeros(packed_size_bytes(v.size(), width));
  pack_bits(v.data(), v.size(), width, w.out.data() + start);
}

// Input plaintext scale per prime: Delta mod q_i (the trace's factor k_w is
// undone on the server, see inverse_residues).
std::vector<std::uint64_t> input_scale(const Context& ctx, const LinearPlan& plan) {
  return Scale::from_plain_modulus(ctx, std::uint64_t{1} << plan.plain_bits).delta_residues();
}

// inverse(v) mod q_i for every prime: the server's constants 2^-L (inputs) and
// (k_w / 2^L)^-1 (weights), clear::input_scale and clear::weight_scale.
std::vector<std::uint64_t> inverse_residues(const Context& ctx, std::uint64_t v) {
  std::vector<std::uint64_t> f(ctx.moduli_count());
  for (std::size_t i = 0; i < f.size(); ++i) f[i] = ctx.modulus(i).inverse(v);
  return f;
}

// round(v * Q / 2^u) mod q_i for every prime: the body value the server rebuilds.
void rebuild_body(const Context& ctx, const std::vector<std::uint64_t>& v, int u, RnsPoly& c0) {
  const std::size_t n = ctx.poly_degree(), k = ctx.moduli_count();
  const math::WideInt& q_big = ctx.coeff_basis().product();
  if (q_big.bit_length() <= 63 && u <= 63) {
    const math::u128 q = q_big.word(0);
    for (std::size_t j = 0; j < n; ++j) {
      const math::u128 x = (static_cast<math::u128>(v[j]) * q + (static_cast<math::u128>(1) << (u - 1))) >> u;
      for (std::size_t i = 0; i < k; ++i) c0.residues(i)[j] = static_cast<std::uint64_t>(x % ctx.modulus(i).value());
    }
  } else {
    const math::WideInt half = math::WideInt::from_u64(1).times(1);
    for (std::size_t j = 0; j < n; ++j) {
      math::WideInt x = math::WideInt::from_u64(v[j]) * q_big;
      math::WideInt rounding;
      rounding.word((u - 1) / 64) = std::uint64_t{1} << ((u - 1) % 64);
      x = (x + rounding).shifted_right(u);
      for (std::size_t i = 0; i < k; ++i) c0.residues(i)[j] = x.mod_word(ctx.modulus(i).value());
    }
    (void)half;
  }
  c0.set_ntt_form(false);
}

// Signed coefficients of weight polynomial (s, c) (length N).
std::vector<std::int64_t> weight_coefficients(const LinearGeometry& geo, std::span<const std::int8_t> w,
                                              std::uint32_t s, std::uint32_t c) {
  const std::int64_t n = geo.poly_degree;
  std::vector<std::int64_t> p(geo.poly_degree, 0);
  for (std::uint32_t r = 0; r < geo.outputs_per_poly; ++r) {
    const std::uint64_t out_row = std::uint64_t{s} * geo.outputs_per_poly + r;
    if (out_row >= geo.shape.out) break;
    for (std::uint32_t j = 0; j < geo.chunk_width; ++j) {
      const std::uint64_t col = std::uint64_t{c} * geo.chunk_width + j;
      if (col >= geo.shape.in) break;
      const std::int64_t e = geo.weight_exponent(r, j);
      const std::int64_t v = w[out_row * geo.shape.in + col];
      if (e >= 0) p[e] += v;
      else p[e + n] -= v;
    }
  }
  return p;
}

// The transform of the monomial X^s for every prime, with 32-bit Shoup
// constants: the packing tree multiplies by X^s in NTT form.
struct MonomialSlots {
  std::vector<std::vector<std::uint64_t>> value, shoup;  // [prime][slot]
};
MonomialSlots make_monomial_slots(const Context& ctx, std::size_t s) {
  const std::size_t n = ctx.poly_degree(), k = ctx.moduli_count();
  MonomialSlots m;
  m.value.assign(k, std::vector<std::uint64_t>(n, 0));
  m.shoup.assign(k, std::vector<std::uint64_t>(n, 0));
  for (std::size_t i = 0; i < k; ++i) {
    m.value[i][s] = 1;
    math::ntt_forward(m.value[i].data(), ctx.ntt_tables(i));
    const std::uint64_t q = ctx.modulus(i).value();
    if (q < (std::uint64_t{1} << 31))
      for (std::size_t j = 0; j < n; ++j) m.shoup[i][j] = (m.value[i][j] << 32) / q;
  }
  return m;
}

// Cached per (parameter set, shift): at most log2(N) shifts per set, made once
// instead of on every call.
const MonomialSlots& monomial_slots(const Context& ctx, std::size_t s) {
  static std::mutex mutex;
  static std::map<std::pair<ParamId, std::size_t>, std::unique_ptr<const MonomialSlots>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto& slot = cache[{ctx.param_id(), s}];
  if (!slot) slot = std::make_unique<const MonomialSlots>(make_monomial_slots(ctx, s));
  return *slot;
}

// One merge of the packing tree in NTT form: even <- E + X^s O, returns
// E - X^s O (X^s as the pointwise product with its transform).
Ciphertext monomial_butterfly(const Context& ctx, Ciphertext& even, const Ciphertext& odd, const MonomialSlots& m) {
  const std::size_t n = ctx.poly_degree();
  Ciphertext diff(ctx, true);
  for (int part = 0; part < 2; ++part) {
    RnsPoly& e = part == 0 ? even.c0 : even.c1;
    const RnsPoly& o = part == 0 ? odd.c0 : odd.c1;
    RnsPoly& d = part == 0 ? diff.c0 : diff.c1;
    for (std::size_t i = 0; i < ctx.moduli_count(); ++i)
      math::monomial_butterfly_ntt(e.residues(i), o.residues(i), m.value[i].data(), m.shoup[i].data(),
                                   d.residues(i), n, ctx.modulus(i));
  }
  return diff;
}

// Runs f(i) for i < count on `threads` threads (the caller's included).
// The first exception is rethrown on the caller's thread.
// Helper threads kept for the process: a call runs ~12 parallel sections
// (input side, products, one per tree level), and spawning threads for each
// cost ~600 thread creations per GPT-2 token. One call at a time holds the
// pool; a concurrent call (another session) spawns its own threads.
class HelperPool {
 public:
  // Never destroyed: its threads wait on a condition variable until the
  // process exits (no join at exit, nothing to tear down in a forked child).
  static HelperPool& instance() {
    static HelperPool* pool = new HelperPool;
    return *pool;
  }
  // Empty (not owning) when another call holds the pool, or in a child
  // process forked after the threads started (they do not exist there).
  std::unique_lock<std::mutex> claim() {
    if (getpid() != owner_) return {};
    return std::unique_lock<std::mutex>(busy_, std::try_to_lock);
  }
  // With the pool claimed: runs `job` once on each of `helpers` pool threads.
  void start(std::size_t helpers, const std::function<void()>* job) {
    std::lock_guard<std::mutex> lock(mutex_);
    while (threads_.size() < helpers) {
      const std::size_t id = threads_.size();
      threads_.emplace_back([this, id] { loop(id); });
    }
    job_ = job;
    wanted_ = helpers;
    remaining_ = helpers;
    ++generation_;
    wake_.notify_all();
  }
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return remaining_ == 0; });
    job_ = nullptr;
  }

 private:
  void loop(std::size_t id) {
    std::uint64_t seen = 0;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      wake_.wait(lock, [&] { return generation_ != seen && id < wanted_; });
      seen = generation_;
      const std::function<void()>* job = job_;
      lock.unlock();
      (*job)();  // never throws: parallel_for's work catches
      lock.lock();
      if (--remaining_ == 0) done_.notify_all();
    }
  }
  std::mutex busy_, mutex_;
  std::condition_variable wake_, done_;
  std::vector<std::thread> threads_;
  const std::function<void()>* job_ = nullptr;
  std::size_t wanted_ = 0, remaining_ = 0;
  std::uint64_t generation_ = 0;
  const pid_t owner_ = getpid();
};

template <class F>
void parallel_for(std::size_t count, std::size_t threads, F&& f) {
  threads = std::min(threads, count);
  if (threads <= 1) {
    for (std::size_t i = 0; i < count; ++i) f(i);
    return;
  }
  std::atomic<std::size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    for (std::size_t i = next++; i < count; i = next++) {
      try {
        f(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
  };
  HelperPool& helpers = HelperPool::instance();
  if (auto claim = helpers.claim()) {
    const std::function<void()> job = work;
    helpers.start(threads - 1, &job);
    work();
    helpers.wait();
  } else {
    std::vector<std::thread> pool;
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
  }
  if (error) std::rethrow_exception(error);
}

// The server allocates and frees many 32-64 KB polynomials per call. With
// glibc's defaults the heap top is returned to the kernel whenever it shrinks
// past 128 KB, so the next call faults every page in again (zeroed by the
// kernel): measured at half of the server time of a 512-key-switch call.
// Keep freed memory in the process instead (once, for the whole process).
void keep_freed_memory() {
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
  });
}

}  // namespace

// ---- keys -------------------------------------------------------------------
const LinearSessionKeys& LinearServerKeys::get(ParamId id) const {
  auto it = sets_.find(id);
  require(it != sets_.end(), ErrorCode::missing_galois_key,
          "no session keys for parameter set " + std::string(parameter_set(id).name));
  return it->second;
}

void LinearServerKeys::insert(LinearSessionKeys keys) {
  const ParamId id = keys.context->param_id();
  if (!keys.input_hoisted && !keys.galois_input.keys().empty())
    keys.input_hoisted = std::make_shared<const HoistedGaloisKeys>(*keys.context, keys.galois_input);
  sets_[id] = std::move(keys);
}

std::vector<std::uint8_t> LinearServerKeys::save() const {
  Writer w;
  w.bytes(kKeysMagic, 4);
  w.u16(kLinearFormatVersion);
  w.u16(static_cast<std::uint16_t>(sets_.size()));
  for (const auto& [id, k] : sets_) {
    w.u16(static_cast<std::uint16_t>(id));
    w.u16(0);
    const auto g = he::save(k.galois, *k.context);
    w.u32(static_cast<std::uint32_t>(g.size()));
    w.bytes(g.data(), g.size());
    if (k.galois_input.keys().empty()) {
      w.u32(0);
    } else {
      const auto gi = he::save(k.galois_input, *k.context);
      w.u32(static_cast<std::uint32_t>(gi.size()));
      w.bytes(gi.data(), gi.size());
      const auto gs = he::save(k.galois_sequential, *k.context);
      w.u32(static_cast<std::uint32_t>(gs.size()));
      w.bytes(gs.data(), gs.size());
    }
    const auto z = he::save(k.zero, *k.context);
    w.u32(static_cast<std::uint32_t>(z.size()));
    w.bytes(z.data(), z.size());
    if (k.shared_mask) {
      const auto m = he::save(*k.shared_mask, *k.context);
      w.u32(static_cast<std::uint32_t>(m.size()));
      w.bytes(m.data(), m.size());
    } else {
      w.u32(0);
    }
  }
  return w.out;
}

LinearServerKeys LinearServerKeys::load(std::span<const std::uint8_t> bytes) {
  Reader r{bytes, 0, "linear server keys"};
  require(std::memcmp(r.take(4).data(), kKeysMagic, 4) == 0, ErrorCode::bad_magic, "linear server keys: bad magic");
  require(r.le(2) == kLinearFormatVersion, ErrorCode::bad_version, "linear server keys: bad version");
  const auto count = r.le(2);
  require(count >= 1 && count <= all_parameter_ids().size(), ErrorCode::length_too_large,
          "linear server keys: " + std::to_string(count) + " parameter sets");
  LinearServerKeys keys;
  for (std::uint64_t i = 0; i < count; ++i) {
    const ParamId id = param_id_from_u16(static_cast<std::uint16_t>(r.le(2)));
    require(r.le(2) == 0, ErrorCode::bad_message, "linear server keys: reserved field not zero");
    require(!keys.has(id), ErrorCode::bad_message, "linear server keys: parameter set repeated");
    LinearSessionKeys k;
    k.context = Context::get(id);
    const auto gsize = r.le(4);
    k.galois = load_galois_keys(*k.context, r.take(gsize));
    const auto gisize = r.le(4);
    if (gisize > 0) {
      k.galois_input = load_galois_keys(*k.context, r.take(gisize));
      for (std::uint64_t e : linear_input_galois_elements(k.context->poly_degree()))
        require(k.galois_input.has(e), ErrorCode::missing_galois_key,
                "linear server keys: input-side Galois element " + std::to_string(e) + " missing");
      const auto gssize = r.le(4);
      k.galois_sequential = load_galois_keys(*k.context, r.take(gssize));
      for (std::uint64_t e : linear_sequential_galois_elements(k.context->poly_degree()))
        require(k.galois_sequential.has(e), ErrorCode::missing_galois_key,
                "linear server keys: sequential Galois element " + std::to_string(e) + " missing");
    }
    const auto zsize = r.le(4);
    k.zero = load_ciphertext(*k.context, r.take(zsize));
    if (const auto msize = r.le(4); msize > 0) {
      k.shared_mask = load_shared_mask_key(*k.context, r.take(msize));
      // The replies group packed cts by kLinearSharedMaskGroup: another size
      // would only fail later (or hold a larger key than the session needs).
      require(k.shared_mask->group() == kLinearSharedMaskGroup, ErrorCode::bad_message,
              "linear server keys: shared-mask key for groups of " + std::to_string(k.shared_mask->group()) +
                  ", expected " + std::to_string(kLinearSharedMaskGroup));
    }
    for (std::uint64_t e : packing_galois_elements(k.context->poly_degree()))
      require(k.galois.has(e), ErrorCode::missing_galois_key,
              "linear server keys: Galois element " + std::to_string(e) + " missing");
    if (!k.zero.is_ntt_form()) Evaluator(k.context).transform_to_ntt_inplace(k.zero);
    keys.insert(std::move(k));
  }
  require(r.pos == bytes.size(), ErrorCode::trailing_bytes, "linear server keys: trailing bytes");
  return keys;
}

// ---- weights ------------------------------------------------------------------
EncodedWeights::EncodedWeights(std::span<const std::int8_t> w, std::uint32_t out, std::uint32_t in)
    : w_(w.begin(), w.end()), out_(out), in_(in) {
  require(out >= 1 && out <= kLinearMaxOut && in >= 1 && in <= kLinearMaxIn, ErrorCode::invalid_argument,
          "weights " + std::to_string(out) + " x " + std::to_string(in) + " outside 1..131072 x 1..8192");
  require(w.size() == std::size_t{out} * in, ErrorCode::invalid_argument,
          "weights: " + std::to_string(w.size()) + " values for " + std::to_string(out) + " x " + std::to_string(in));
}

std::shared_ptr<const EncodedWeights::Polys> EncodedWeights::polys(const LinearPlan& plan) const {
  require(plan.geo.shape.in == in_ && plan.geo.shape.out == out_, ErrorCode::shape_mismatch,
          "weights are " + std::to_string(out_) + " x " + std::to_string(in_) + ", the call is " +
              std::to_string(plan.geo.shape.out) + " x " + std::to_string(plan.geo.shape.in));
  const auto key = std::make_tuple(static_cast<int>(plan.param_id) * 16 + plan.geo.input_levels, plan.geo.chunk_width,
                                   plan.geo.outputs_per_poly);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
  }
  // Encode outside the lock; a concurrent duplicate is harmless (same result).
  const auto ctx = Context::get(plan.param_id);
  const LinearGeometry& geo = plan.geo;
  // Visits the signed coefficient vectors in the order linear_evaluate reads them.
  auto for_each_poly = [&](auto&& emit) {
    if (geo.input_levels == 0) {
      for (std::uint32_t s = 0; s < geo.sparse_per_group; ++s)
        for (std::uint32_t c = 0; c < geo.chunks; ++c) emit(weight_coefficients(geo, w_, s, c));
    } else {
      // Order: packed p, live entry i, chunk c, input-side mask b.
      for (std::uint32_t p = 0; p < geo.packed_per_group; ++p)
        for (std::uint32_t i = 0; i < geo.live_entries(p); ++i)
          for (std::uint32_t c = 0; c < geo.chunks; ++c)
            for (const auto& f : clear::folded_weight_polys(geo, w_.data(), p, i, c)) emit(f);
    }
  };
  // (k_w / 2^L)^-1: the rest of the trace's factor k_w (the inputs carry 2^-L).
  const auto scale = inverse_residues(*ctx, geo.chunk_width >> geo.input_levels);
  std::shared_ptr<Polys> polys;
  if (PlaintextNtt32::supported(*ctx)) {
    std::vector<PlaintextNtt32> v;
    v.reserve(geo.weight_polys());
    for_each_poly([&](const std::vector<std::int64_t>& f) {
      v.push_back(PlaintextNtt32::encode_scaled(*ctx, f.data(), f.size(), scale));
    });
    polys = std::make_shared<Polys>(std::move(v));
  } else {
    std::vector<PlaintextNtt> v;
    v.reserve(geo.weight_polys());
    for_each_poly([&](const std::vector<std::int64_t>& f) {
      v.push_back(PlaintextNtt::encode_scaled(*ctx, f.data(), f.size(), scale));
    });
    polys = std::make_shared<Polys>(std::move(v));
  }
  std::lock_guard<std::mutex> lock(mutex_);
  auto [it, inserted] = cache_.emplace(key, std::move(polys));
  return it->second;
}

std::size_t EncodedWeights::encoded_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::size_t bytes = 0;
  for (const auto& [key, polys] : cache_)
    std::visit(
        [&](const auto& v) {
          for (const auto& p : v) {
            if constexpr (std::is_same_v<std::decay_t<decltype(p)>, PlaintextNtt32>) bytes += p.bytes();
            else bytes += p.poly().poly_degree() * p.poly().moduli_count() * sizeof(std::uint64_t);
          }
        },
        *polys);
  return bytes;
}

void EncodedWeights::prepare(std::span<const std::uint32_t> row_counts, LinearPrecision precision,
                             bool input_signed) const {
  for (std::uint32_t rows : row_counts) (void)polys(plan_linear({rows, in_, out_}, precision, input_signed));
}

// ---- client -------------------------------------------------------------------
struct LinearClient::SetKeys {
  ContextPtr context;
  SecretKey secret;
  // Targets of the shared-mask reply groups (linear_shared_mask_available sets).
  std::vector<SecretKey> targets;
};

LinearClient::LinearClient(std::vector<ParamId> sets) {
  for (ParamId id : sets) {
    auto k = std::make_shared<SetKeys>();
    k->context = Context::get(id);
    k->secret = SecretKey::generate(*k->context);
    if (linear_shared_mask_available(id))
      for (std::size_t y = 0; y < kLinearSharedMaskGroup; ++y) k->targets.push_back(SecretKey::generate(*k->context));
    keys_[id] = std::move(k);
  }
}

LinearServerKeys LinearClient::server_keys() const {
  LinearServerKeys out;
  for (const auto& [id, k] : keys_) {
    LinearSessionKeys s;
    s.context = k->context;
    const auto elts = packing_galois_elements(k->context->poly_degree());
    s.galois = make_galois_keys(*k->context, k->secret, elts, linear_decomposition_bits(id));
    if (const int w = linear_input_decomposition_bits(id); w > 0) {
      s.galois_input = make_galois_keys(*k->context, k->secret, linear_input_galois_elements(k->context->poly_degree()), w);
      s.galois_sequential = make_galois_keys(*k->context, k->secret,
                                             linear_sequential_galois_elements(k->context->poly_degree()),
                                             linear_sequential_decomposition_bits(id));
    }
    s.zero = Encryptor(k->context, k->secret).encrypt_zero();
    if (!k->targets.empty())
      s.shared_mask = make_shared_mask_key(*k->context, k->secret, k->targets, linear_decomposition_bits(id));
    out.insert(std::move(s));
  }
  return out;
}

std::vector<std::uint8_t> LinearClient::encrypt(std::span<const std::uint8_t> x, LinearShape shape,
                                                LinearPrecision precision, LinearObjective objective) const {
  require(x.size() == std::size_t{shape.rows} * shape.in, ErrorCode::invalid_argument, "encrypt: X has the wrong size");
  std::vector<std::int32_t> v(x.begin(), x.end());
  return encrypt_impl(v.data(), shape, precision, false, objective);
}

std::vector<std::uint8_t> LinearClient::encrypt(std::span<const std::int8_t> x, LinearShape shape,
                                                LinearPrecision precision, LinearObjective objective) const {
  require(x.size() == std::size_t{shape.rows} * shape.in, ErrorCode::invalid_argument, "encrypt: X has the wrong size");
  std::vector<std::int32_t> v(x.begin(), x.end());
  return encrypt_impl(v.data(), shape, precision, true, objective);
}

std::vector<std::uint8_t> LinearClient::encrypt_impl(const std::int32_t* x, LinearShape shape,
                                                     LinearPrecision precision, bool input_signed,
                                                     LinearObjective objective) const {
  const LinearPlan plan = plan_linear(shape, precision, input_signed, objective);
  auto it = keys_.find(plan.param_id);
  require(it != keys_.end(), ErrorCode::missing_galois_key,
          "client has no key for parameter set " + std::string(parameter_set(plan.param_id).name));
  const Context& ctx = *it->second->context;
  const Encryptor enc(it->second->context, it->second->secret);
  const Evaluator ev(it->second->context);
  const LinearGeometry& geo = plan.geo;
  const auto factor = input_scale(ctx, plan);
  const std::size_t n = ctx.poly_degree(), k = ctx.moduli_count();

  Writer w;
  Header h;
  h.bits_a = static_cast<std::uint8_t>(plan.upload_bits);
  write_header(w, h, plan);
  const std::uint64_t upload_modulus = std::uint64_t{1} << plan.upload_bits;
  for (std::uint32_t g = 0; g < geo.row_groups; ++g) {
    for (std::uint32_t c = 0; c < geo.chunks; ++c) {
      RnsPoly plain(ctx, false);
      for (std::uint32_t t = 0; t < geo.rows_per_ct; ++t) {
        const std::uint64_t row = std::uint64_t{g} * geo.rows_per_ct + t;
        if (row >= shape.rows) break;
        for (std::uint32_t j = 0; j < geo.chunk_width; ++j) {
          const std::uint64_t col = std::uint64_t{c} * geo.chunk_width + j;
          if (col >= shape.in) break;
          const std::int64_t xv = x[row * shape.in + col];
          for (std::size_t i = 0; i < k; ++i) {
            const math::Modulus& q = ctx.modulus(i);
            plain.residues(i)[geo.input_coeff(t, j)] = q.mul(q.from_signed(xv), factor[i]);
          }
        }
      }
      const SeededCiphertext sc = enc.encrypt_poly_seeded(plain);
      Ciphertext body_only(ctx, true);
      body_only.c0 = sc.c0;
      // Round the body to 2^u levels (the dropped bits are extra noise, see docs).
      const SwitchedCiphertext rounded = ev.switch_modulus(body_only, upload_modulus, 2);
      w.bytes(sc.seed.data(), sc.seed.size());
      if (geo.sub_body()) {
        // Only the coefficients that hold inputs (LinearGeometry::sent_positions).
        const auto sent = geo.sent_positions(g, c);
        std::vector<std::uint64_t> values(sent.size());
        for (std::size_t i = 0; i < sent.size(); ++i) values[i] = rounded.c0[sent[i]];
        write_values(w, values, plan.upload_bits);
      } else {
        write_values(w, rounded.c0, plan.upload_bits);
      }
      (void)n;
    }
  }
  finish(w);
  return w.out;
}

std::vector<std::int64_t> LinearClient::decrypt(std::span<const std::uint8_t> reply) const {
  Reader r{reply, 0, "linear reply"};
  Header h;
  const LinearPlan plan = read_header(r, true, h);
  auto it = keys_.find(plan.param_id);
  require(it != keys_.end(), ErrorCode::wrong_key, "linear reply: no key for its parameter set");
  const Context& ctx = *it->second->context;
  const Scale scale = Scale::from_plain_modulus(ctx, std::uint64_t{1} << plan.plain_bits);
  const LinearGeometry& geo = plan.geo;
  const std::size_t n = ctx.poly_degree();
  const std::uint64_t qb = std::uint64_t{1} << plan.body_bits, qm = std::uint64_t{1} << plan.mask_bits;
  std::vector<std::int64_t> y(std::size_t{geo.shape.rows} * geo.shape.out, 0);
  if (plan.shared_mask)
    require(it->second->targets.size() == kLinearSharedMaskGroup, ErrorCode::wrong_key,
            "linear reply: shared-mask secrets missing");
  // Decryptors for s and, with shared masks, every target (built once: each
  // precomputes its secret's transforms).
  std::vector<Decryptor> decryptors{Decryptor(it->second->context, it->second->secret)};
  if (plan.shared_mask)
    for (const SecretKey& t : it->second->targets) decryptors.emplace_back(it->second->context, t);
  std::vector<std::uint64_t> mask;
  const std::size_t total = geo.packed_cts();
  for (std::size_t f = 0; f < total; ++f) {
    const std::uint32_t g = static_cast<std::uint32_t>(f / geo.packed_per_group);
    const std::uint32_t p = static_cast<std::uint32_t>(f % geo.packed_per_group);
    // Record per group: the mask, then the bodies of its packed cts (under
    // targets 0, 1, ... when shared, under s when alone).
    const LinearPlan::MaskGroup group = plan.mask_group(f);
    if (group.first == f) mask = read_values(r, n, plan.mask_bits, qm);
    SwitchedCiphertext sct;
    sct.param_id = plan.param_id;
    sct.body_modulus = qb;
    sct.mask_modulus = qm;
    sct.c1 = mask;
    const auto used = geo.used_positions(g, p);
    const auto body = read_values(r, used.size(), plan.body_bits, qb);
    sct.c0.assign(n, 0);
    for (std::size_t i = 0; i < used.size(); ++i) sct.c0[used[i]] = body[i];
    const Decryptor& dec = group.size == 1 ? decryptors[0] : decryptors[1 + (f - group.first)];
    const Decrypted d = dec.decrypt(sct, scale);
    for (std::uint32_t pos : used) {
      const auto cell = geo.packed_cell(g, p, pos);
      y[std::size_t{cell->row} * geo.shape.out + cell->col] = d.message[pos];
    }
  }
  require(r.pos == reply.size(), ErrorCode::trailing_bytes, "linear reply: trailing bytes");
  return y;
}

LinearMessageInfo peek_linear_upload(std::span<const std::uint8_t> upload) {
  Reader r{upload, 0, "linear upload"};
  Header h;
  (void)read_header(r, false, h);
  return {h.shape, h.precision, h.input_signed, h.param_id, h.objective};
}

// ---- server -------------------------------------------------------------------
std::vector<std::uint8_t> linear_evaluate(std::span<const std::uint8_t> upload, const EncodedWeights& weights,
                                          const LinearServerKeys& keys, std::size_t threads) {
  threads = std::clamp<std::size_t>(threads, 1, 64);
  keep_freed_memory();
  Reader r{upload, 0, "linear upload"};
  Header h;
  const LinearPlan plan = read_header(r, false, h);
  const LinearSessionKeys& sk = keys.get(plan.param_id);
  const Context& ctx = *sk.context;
  const LinearGeometry& geo = plan.geo;
  const Evaluator ev(sk.context);
  const std::size_t n = ctx.poly_degree();
  const std::uint64_t upload_modulus = std::uint64_t{1} << plan.upload_bits;
  // Sizes before any work: a short upload must not make the server encode
  // weights for a geometry it never uses.
  const std::size_t payload = plan.bytes_up() - kLinearHeaderBytes;
  require(r.in.size() - r.pos == payload, ErrorCode::shape_mismatch,
          "linear upload: " + std::to_string(r.in.size() - r.pos) + " payload bytes, the shape needs " +
              std::to_string(payload));
  const auto encoded = weights.polys(plan);

  Writer w;
  Header rh;
  rh.reply = true;
  rh.bits_a = static_cast<std::uint8_t>(plan.body_bits);
  rh.bits_b = static_cast<std::uint8_t>(plan.mask_bits);
  write_header(w, rh, plan);

  Prng rng(random_seed());  // server-side randomness for re-randomization
  require(!plan.shared_mask || sk.shared_mask.has_value(), ErrorCode::missing_galois_key,
          "linear: this plan pairs replies under one mask but the session keys have no shared-mask key");
  // Uniform flood in [-F, F] on the body (circuit privacy, docs/linear.md section 6).
  auto add_flood = [&](Ciphertext& ct) {
    const std::uint64_t f = static_cast<std::uint64_t>(plan.flood_bound);
    if (f == 0) return;
    std::vector<std::int64_t> flood(n);
    for (auto& v : flood) v = static_cast<std::int64_t>(rng.uniform_below(2 * f + 1)) - static_cast<std::int64_t>(f);
    Ciphertext fl(ctx, false);
    fl.c0 = RnsPoly::from_signed(ctx, flood.data(), n);
    ev.add_inplace(ct, fl);
  };
  auto switch_down = [&](const Ciphertext& ct) {
    return ev.switch_modulus(ct, std::uint64_t{1} << plan.body_bits, std::uint64_t{1} << plan.mask_bits);
  };
  auto write_body = [&](const SwitchedCiphertext& sw, std::uint32_t g, std::uint32_t p) {
    const auto used = geo.used_positions(g, p);
    std::vector<std::uint64_t> body(used.size());
    for (std::size_t i = 0; i < used.size(); ++i) body[i] = sw.c0[used[i]];
    write_values(w, body, plan.body_bits);
  };
  std::vector<Ciphertext> pending;  // the packed cts of the current shared-mask group so far
  std::vector<std::pair<std::uint32_t, std::uint32_t>> pending_cells;
  // 2^-L before the input-side automorphisms (clear::input_scale).
  const auto input_factor = inverse_residues(ctx, std::uint64_t{1} << geo.input_levels);
  // Transforms of the tree's monomial shifts X^(k_w / 2^j), by level j.
  std::vector<const MonomialSlots*> level_monomials(geo.log_chunk + 1, nullptr);
  for (int j = geo.input_levels + 1; j <= geo.log_chunk; ++j)
    level_monomials[j] = &monomial_slots(ctx, geo.level_shift(j));
  for (std::uint32_t g = 0; g < geo.row_groups; ++g) {
    std::vector<Ciphertext> inputs;
    inputs.reserve(geo.chunks);
    for (std::uint32_t c = 0; c < geo.chunks; ++c) {
      Seed seed;
      const auto sb = r.take(32);
      std::copy(sb.begin(), sb.end(), seed.begin());
      Ciphertext ct;
      ct.c1 = expand_seed(ctx, seed);
      ct.c0 = RnsPoly(ctx, false);
      if (geo.sub_body()) {
        // Unsent coefficients stay zero: their phase is garbage that only
        // reaches coefficients the packing trace cancels.
        const auto sent = geo.sent_positions(g, c);
        const auto values = read_values(r, sent.size(), plan.upload_bits, upload_modulus);
        std::vector<std::uint64_t> body(n, 0);
        for (std::size_t i = 0; i < sent.size(); ++i) body[sent[i]] = values[i];
        rebuild_body(ctx, body, plan.upload_bits, ct.c0);
      } else {
        rebuild_body(ctx, read_values(r, n, plan.upload_bits, upload_modulus), plan.upload_bits, ct.c0);
      }
      to_ntt(ct.c0, ctx);
      if (geo.input_levels > 0) ev.multiply_scalar_inplace(ct, input_factor);
      inputs.push_back(std::move(ct));
    }
    // Input side of the split point: sigma_mask(input_c), mask over the first
    // L tree levels (inputs[c * masks + mask], NTT form), hoisted: one gadget
    // decomposition per input ct, then one multiply-accumulate per
    // automorphism with the key of the composed element (hoisted_galois.h).
    const std::uint32_t masks = 1u << geo.input_levels;
    if (masks > 1) {
      // Mask bits: the H hoisted levels low, the X sequential ones high. The
      // 2^X bases sigma_B(in) come from one key switch each (their elements
      // are single keys), then each base is decomposed once and takes the
      // hoisted automorphisms of the low bits.
      const std::uint32_t low = 1u << geo.hoisted_levels(), bases = masks / low;
      std::vector<Ciphertext> base(std::size_t{geo.chunks} * bases);
      for (std::uint32_t c = 0; c < geo.chunks; ++c) base[std::size_t{c} * bases] = inputs[c];
      for (int x = 0; x < geo.sequential_levels(); ++x) {
        const std::uint32_t bit = 1u << x;
        const std::uint64_t gal = geo.level_galois_element(geo.hoisted_levels() + 1 + x);
        parallel_for(std::size_t{geo.chunks} * bit, threads, [&](std::size_t idx) {
          const std::size_t c = idx / bit, b = idx % bit;
          Ciphertext ct = base[c * bases + b];
          ev.apply_galois_inplace(ct, gal, sk.galois_sequential);
          base[c * bases + (b | bit)] = std::move(ct);
        });
      }
      std::vector<std::optional<HoistedCiphertext>> hoisted(base.size());
      parallel_for(base.size(), threads, [&](std::size_t i) {
        hoisted[i].emplace(sk.context, base[i], plan.input_decomposition_bits);
      });
      std::vector<Ciphertext> rotated(std::size_t{geo.chunks} * masks);
      parallel_for(rotated.size(), threads, [&](std::size_t idx) {
        const std::size_t c = idx / masks, b = idx % masks;
        const std::size_t a = b % low, s = b / low;  // hoisted bits, sequential bits
        const Ciphertext& from = base[c * bases + s];
        if (a == 0) {
          rotated[idx] = from;
          return;
        }
        const HoistedCiphertext& h = *hoisted[c * bases + s];
        const std::uint64_t g = clear::input_galois_element(geo, static_cast<std::uint32_t>(a));
        rotated[idx] = h.fast() && sk.input_hoisted && sk.input_hoisted->has(g)
                           ? h.apply_galois(g, *sk.input_hoisted)
                           : h.apply_galois(g, sk.galois_input);
      });
      inputs = std::move(rotated);
    }
    // Products and packing tree of packed ct p, on `inner` threads.
    std::vector<std::size_t> entry_offset(geo.packed_per_group + 1, 0);  // live entries before p
    for (std::uint32_t p = 0; p < geo.packed_per_group; ++p) entry_offset[p + 1] = entry_offset[p] + geo.live_entries(p);
    auto pack = [&](std::uint32_t p, std::size_t inner) {
      // Tree entries at level L (the sparse results when L = 0).
      const std::uint32_t count = geo.live_entries(p);
      std::vector<std::optional<Ciphertext>> level(geo.entries_per_packed());
      // Entry i sums terms c < C 2^L of inputs[c] x polys[first_poly(i) + c],
      // one accumulator pass per term. (Measured slower on the AVX2 machine:
      // blocking over slots so all inputs stay in cache, one pass over all
      // terms with the sums in registers, and passes over groups of four terms
      // with 32-bit inputs: 4-37% slower, the weights then being read in
      // scattered pieces or from too many streams at once.)
      const std::size_t terms = std::size_t{geo.chunks} * masks;
      auto first_poly = [&](std::uint32_t i) {
        return masks == 1 ? (std::size_t{p} * geo.chunk_width + i) * geo.chunks : (entry_offset[p] + i) * terms;
      };
      std::vector<std::vector<std::uint32_t>> share(inner);
      for (std::uint32_t i = 0; i < count; ++i) share[i % inner].push_back(i);
      parallel_for(inner, inner, [&](std::size_t t) {
        CiphertextAccumulator acc(sk.context);
        for (std::uint32_t i : share[t]) {
          acc.reset();
          std::visit(
              [&](const auto& polys) {
                const std::size_t first = first_poly(i);
                std::size_t c = 0;
                if constexpr (std::is_same_v<std::decay_t<decltype(polys)>, std::vector<PlaintextNtt32>>) {
                  // Two terms per pass: the sums are read and written once for
                  // both (a 768 -> 2304 call 30.7-32.1 -> 28.2-28.3 ms, one thread).
                  for (; c + 2 <= terms; c += 2)
                    acc.multiply_add2_unchecked(inputs[c], polys[first + c], inputs[c + 1], polys[first + c + 1]);
                }
                for (; c < terms; ++c) acc.multiply_add_unchecked(inputs[c], polys[first + c]);
              },
              *encoded);
          level[i] = acc.result();  // NTT form: the tree works on transforms
        }
      });
      // Packing tree (see linear_reference.cpp for the same steps in the
      // clear), in NTT form: automorphisms permute slots and the key switch
      // takes its input back to coefficients (2 inverse NTTs per node, not 4
      // after each merge plus 4 per entry).
      for (int j = geo.input_levels + 1; j <= geo.log_chunk; ++j) {
        const std::uint32_t half = geo.chunk_width >> j;
        const std::uint64_t gal = geo.level_galois_element(j);
        const MonomialSlots& shift = *level_monomials[j];
        parallel_for(half, inner, [&](std::size_t i) {
          auto& even = level[i];
          auto& odd = level[i + half];
          if (!even && !odd) return;
          if (!even) even = Ciphertext(ctx, true);
          Ciphertext diff;
          if (odd) {
            diff = monomial_butterfly(ctx, *even, *odd, shift);
            odd.reset();
          } else {
            diff = *even;
          }
          ev.apply_galois_inplace(diff, gal, sk.galois);
          ev.add_inplace(*even, diff);
        });
        level.resize(half);
      }
      // NTT form: a shared-mask group keeps its bodies there (shared_mask_switch).
      return level[0] ? std::move(*level[0]) : Ciphertext(ctx, true);
    };
    // With enough packed cts each thread packs whole ones (no thread idles in
    // the tree's last levels, which have one or two nodes); with few, the
    // threads share the entries and nodes of each.
    std::vector<Ciphertext> packed_cts(geo.packed_per_group);
    if (threads > 1 && geo.packed_per_group >= 2 * threads) {
      parallel_for(geo.packed_per_group, threads, [&](std::size_t p) {
        packed_cts[p] = pack(static_cast<std::uint32_t>(p), 1);
      });
    } else {
      for (std::uint32_t p = 0; p < geo.packed_per_group; ++p) packed_cts[p] = pack(p, threads);
    }
    for (std::uint32_t p = 0; p < geo.packed_per_group; ++p) {
      Ciphertext packed = std::move(packed_cts[p]);
      // Shared masks: the packed cts of a group wait for its last one (row-group-major order).
      const std::size_t flat = std::size_t{g} * geo.packed_per_group + p;
      const LinearPlan::MaskGroup group = plan.mask_group(flat);
      if (group.size > 1) {
        pending.push_back(std::move(packed));
        pending_cells.emplace_back(g, p);
        if (pending.size() < group.size) continue;
        // Circuit privacy: shared_mask_switch adds u * (shared public zero), a
        // fresh mask for all; each body gets its own flood.
        std::vector<Ciphertext*> members;
        for (Ciphertext& ct : pending) members.push_back(&ct);
        shared_mask_switch(ctx, *sk.shared_mask, members, rng);
        for (std::size_t y = 0; y < pending.size(); ++y) {
          add_flood(pending[y]);
          const SwitchedCiphertext sw = switch_down(pending[y]);
          if (y == 0) write_values(w, sw.c1, plan.mask_bits);  // the same for all (same mask, same rounding)
          write_body(sw, pending_cells[y].first, pending_cells[y].second);
        }
        pending.clear();
        pending_cells.clear();
      } else {
        // Circuit privacy: add u * Enc(0) (fresh mask) and a uniform flood in
        // [-F, F] on the body before rounding (docs/linear.md).
        ev.transform_from_ntt_inplace(packed);
        std::vector<std::int64_t> u(n);
        for (auto& v : u) v = rng.ternary();
        Ciphertext mask = sk.zero;
        ev.multiply_plain_inplace(mask, PlaintextNtt::encode(ctx, u.data(), n));
        ev.transform_from_ntt_inplace(mask);
        ev.add_inplace(packed, mask);
        add_flood(packed);
        const SwitchedCiphertext sw = switch_down(packed);
        write_values(w, sw.c1, plan.mask_bits);
        write_body(sw, g, p);
      }
    }
  }
  finish(w);
  return w.out;
}

}  // namespace fhellm::he
