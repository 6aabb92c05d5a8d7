#include "he/weight_encoding.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <memory>
#include <mutex>

#include "fhellm/error.h"
#include "he/context.h"
#include "he/linear_detail.h"
#include "math/blocked_product.h"
#include "math/ntt.h"
#include "common/thread_pool.h"

namespace fhellm::he::detail {
namespace {

constexpr std::size_t kBlock = math::kSlotBlock;

// The folded weight polynomials of one (entry, chunk), computed in place:
// the same values as clear::folded_weight_polys (a test compares them), with
// two reusable buffers of 2^L x N int32 instead of a vector per step. The
// leaves are the entry's 2^L weight polynomials (slot i + t E holds sparse
// result i 2^L + t, slot_of_sparse); level j maps (E_b, O_b) to
// (E_b + X^s O_b, sigma_j(E_b - X^s O_b)) for every mask b of the levels
// below. |values| <= 2^L * 128 * (rows per poly): well within int32.
class Folder {
 public:
  explicit Folder(const LinearGeometry& geo)
      : geo_(geo), n_(geo.poly_degree), count_(std::size_t{1} << geo.input_levels), a_(count_ * n_), b_(count_ * n_) {}

  // Returns 2^L polynomials of N coefficients each, mask-major.
  const std::int32_t* fold(const WeightMatrix& w, std::uint32_t p, std::uint32_t i, std::uint32_t c) {
    std::fill(a_.begin(), a_.end(), 0);
    const std::uint32_t in_packed = geo_.sparse_in_packed(p);
    for (std::size_t t = 0; t < count_; ++t) {
      const std::uint32_t idx = geo_.sparse_of_slot(static_cast<std::uint32_t>(i + t * geo_.entries_per_packed()));
      if (idx < in_packed) place_weights(w, p * geo_.chunk_width + idx, c, a_.data() + t * n_);
    }
    for (int j = 1; j <= geo_.input_levels; ++j) {
      const std::size_t half = count_ >> j, masks = std::size_t{1} << (j - 1);
      const std::size_t shift = geo_.level_shift(j);
      const std::uint64_t gal = geo_.level_galois_element(j);
      for (std::size_t t = 0; t < half; ++t)
        for (std::size_t m = 0; m < masks; ++m) {
          const std::int32_t* e = a_.data() + (t * masks + m) * n_;
          const std::int32_t* o = a_.data() + ((t + half) * masks + m) * n_;
          butterfly(e, o, shift, gal, b_.data() + (t * 2 * masks + m) * n_, b_.data() + (t * 2 * masks + m + masks) * n_);
        }
      std::swap(a_, b_);
    }
    return a_.data();
  }

 private:
  // Weight polynomial (s, c): W[s n_w + r][c k_w + j] at X^(r k_w - j) (T_w = 1).
  void place_weights(const WeightMatrix& w, std::uint32_t s, std::uint32_t c, std::int32_t* out) const {
    const std::uint64_t col0 = std::uint64_t{c} * geo_.chunk_width;
    const std::uint64_t cols = std::min<std::uint64_t>(geo_.chunk_width, w.cols - col0);
    for (std::uint32_t r = 0; r < geo_.outputs_per_poly; ++r) {
      const std::uint64_t row = std::uint64_t{s} * geo_.outputs_per_poly + r;
      if (row >= w.rows) break;
      for (std::uint32_t j = 0; j < cols; ++j) {
        const std::int64_t e = geo_.weight_exponent(r, j);
        const std::int8_t v = w.at(row, col0 + j);
        if (e >= 0) out[e] += v;
        else out[e + n_] -= v;  // X^e = -X^(N+e)
      }
    }
  }
  // sum = e + X^s o, diff = sigma_g(e - X^s o).
  void butterfly(const std::int32_t* e, const std::int32_t* o, std::size_t s, std::uint64_t g, std::int32_t* sum,
                 std::int32_t* diff) const {
    const std::uint64_t two_n_mask = 2 * n_ - 1;
    for (std::size_t k = 0; k < n_; ++k) {
      // (X^s o)_k = o_{k-s} for k >= s, -o_{k-s+N} below.
      const std::int32_t shifted = k >= s ? o[k - s] : -o[k + n_ - s];
      sum[k] = e[k] + shifted;
      const std::int32_t d = e[k] - shifted;
      const std::uint64_t to = (k * g) & two_n_mask;
      if (to < n_) diff[to] = d;
      else diff[to - n_] = -d;
    }
  }

  LinearGeometry geo_;
  std::size_t n_, count_;
  std::vector<std::int32_t> a_, b_;
};

// Encodes one folded polynomial (signed coefficients) as term m of an
// entry's staging buffer ([prime][block][term][16]): mod q, times the scale,
// forward NTT, per prime.
void encode_term(const Context& ctx, const std::int32_t* coeffs, const std::vector<std::uint64_t>& scale,
                 std::size_t terms, std::size_t m, std::uint32_t* staging, std::vector<std::uint64_t>& work) {
  const std::size_t n = ctx.poly_degree(), blocks = n / kBlock;
  work.resize(n);
  for (std::size_t l = 0; l < ctx.moduli_count(); ++l) {
    const std::uint64_t q = ctx.modulus(l).value();
    const math::ShoupConstant f(scale[l], ctx.modulus(l));
    // |coefficient| < 2^24 < q: one conditional add lifts it to [0, q).
    for (std::size_t k = 0; k < n; ++k) {
      const std::int64_t c = coeffs[k];
      work[k] = math::mul_shoup(static_cast<std::uint64_t>(c < 0 ? c + static_cast<std::int64_t>(q) : c), f, q);
    }
    math::ntt_forward(work.data(), ctx.ntt_tables(l));
    for (std::size_t b = 0; b < blocks; ++b) {
      std::uint32_t* dst = staging + ((l * blocks + b) * terms + m) * kBlock;
      for (std::size_t s = 0; s < kBlock; ++s)
        dst[math::blocked_slot_word(s)] = static_cast<std::uint32_t>(work[b * kBlock + s]);
    }
  }
}

// Packs one (entry, chunk)'s staging buffer ([prime][block][mask][16]) into
// the blocked array: per (prime, block), its 2^L units are contiguous within
// the entry's run of terms (term c 2^L + mask).
void place_chunk(const std::uint32_t* staging, const EncodedWeights::Encoding& enc, std::size_t e, std::size_t c,
                 std::size_t masks, std::size_t runs) {
  for (std::size_t lb = 0; lb < runs; ++lb)
    math::pack_words27(staging + lb * masks * kBlock, masks,
                       enc.blocked.get() + ((lb * enc.entries + e) * enc.terms + c * masks) * math::kPackedUnitBytes);
}

// Uninitialized bytes (every unit is written by the encoder), 2 MiB-aligned
// and advised onto huge pages, with the unpack's slack at the end. The size is
// not rounded up to whole huge pages: touching the slack would fault the
// rounded tail in (up to 2 MiB a layer, 42 MB for GPT-2's 50 encodings).
std::unique_ptr<std::uint8_t[], EncodedWeights::WordsDeleter> allocate_units(std::size_t units) {
  constexpr std::size_t kHuge = std::size_t{2} << 20;
  const std::size_t bytes = units * math::kPackedUnitBytes + math::kPackedSlackBytes;
  void* p = nullptr;
  if (posix_memalign(&p, kHuge, bytes) != 0) throw std::bad_alloc();
  (void)madvise(p, bytes, MADV_HUGEPAGE);  // advice only: ignored where unsupported
  std::memset(static_cast<std::uint8_t*>(p) + units * math::kPackedUnitBytes, 0, math::kPackedSlackBytes);
  return std::unique_ptr<std::uint8_t[], EncodedWeights::WordsDeleter>(static_cast<std::uint8_t*>(p));
}

// One job's buffers (the folder's 2 x 2^L polynomials, the staging of 2^L
// transformed terms: 8 MB for the token table's L = 8), handed from job to
// job for one encoding and freed with it. Thread-local buffers kept the
// largest layer's for the server's life (8.6 MB of a listening GPT-2 server).
struct EncodeScratch {
  explicit EncodeScratch(const LinearGeometry& geo) : folder(geo) {}
  Folder folder;
  std::vector<std::uint64_t> work;
  std::vector<std::uint32_t> staging;
};

class ScratchPool {
 public:
  explicit ScratchPool(const LinearGeometry& geo) : geo_(geo) {}
  std::unique_ptr<EncodeScratch> take() {
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        auto s = std::move(free_.back());
        free_.pop_back();
        return s;
      }
    }
    return std::make_unique<EncodeScratch>(geo_);
  }
  void give(std::unique_ptr<EncodeScratch> s) {
    std::lock_guard lock(mutex_);
    free_.push_back(std::move(s));
  }

 private:
  const LinearGeometry& geo_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<EncodeScratch>> free_;
};

}  // namespace

EncodedWeights::Encoding encode_blocked(const WeightMatrix& w, const LinearGeometry& geo, std::uint32_t chunks,
                                        ParamId param_id, const std::vector<std::uint64_t>& scale,
                                        std::size_t threads) {
  const auto ctx = Context::get(param_id);
  require(linear_words32(*ctx), ErrorCode::invalid_argument, "blocked encoding needs primes below 2^27");
  EncodedWeights::Encoding enc;
  enc.geometry = geo;
  enc.first_entry.assign(geo.packed_per_group + 1, 0);
  for (std::uint32_t p = 0; p < geo.packed_per_group; ++p)
    enc.first_entry[p + 1] = enc.first_entry[p] + geo.live_entries(p);
  enc.entries = enc.first_entry.back();
  enc.terms = std::size_t{chunks} << geo.input_levels;
  enc.blocked_units = enc.entries * enc.terms * ctx->moduli_count() * (ctx->poly_degree() / kBlock);
  enc.blocked = allocate_units(enc.blocked_units);
  // (Entry, chunk) pairs are independent: each job folds, transforms and
  // places one (a staging buffer of 2^L polynomials, not an entry's C 2^L).
  const std::size_t masks = std::size_t{1} << geo.input_levels;
  const std::size_t runs = ctx->moduli_count() * (ctx->poly_degree() / kBlock);
  ScratchPool scratch(geo);
  default_thread_pool().run(enc.entries * chunks, std::max<std::size_t>(threads, 1), [&](std::size_t job) {
    const std::size_t e = job / chunks;
    const auto c = static_cast<std::uint32_t>(job % chunks);
    const auto p = static_cast<std::uint32_t>(std::upper_bound(enc.first_entry.begin(), enc.first_entry.end(), e) -
                                              enc.first_entry.begin() - 1);
    const auto i = static_cast<std::uint32_t>(e - enc.first_entry[p]);
    std::unique_ptr<EncodeScratch> s = scratch.take();
    s->staging.resize(masks * ctx->moduli_count() * ctx->poly_degree());
    const std::int32_t* folded = s->folder.fold(w, p, i, c);
    for (std::size_t mask = 0; mask < masks; ++mask)
      encode_term(*ctx, folded + mask * geo.poly_degree, scale, masks, mask, s->staging.data(), s->work);
    place_chunk(s->staging.data(), enc, e, c, masks, runs);
    scratch.give(std::move(s));
  });
  return enc;
}

}  // namespace fhellm::he::detail
