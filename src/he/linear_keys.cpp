// LinearServerKeys: the session's public keys per parameter set and their
// byte format ("FHLK", src/he/linear.h).
#include <cstring>
#include <string>

#include "fhellm/error.h"
#include "he/evaluator.h"
#include "he/linear.h"
#include "he/lookup_layout.h"
#include "he/serialization.h"
#include "common/bytes.h"
#include "common/thread_pool.h"
#include "he/linear_detail.h"

namespace fhellm::he {
namespace {

constexpr std::uint8_t kKeysMagic[4] = {'F', 'H', 'L', 'K'};

// Every key of a session has the gadget width the plans use: a narrower one
// would make the keys, and the server's key-switch work, grow about 1/w.
void require_pinned_widths(const LinearSessionKeys& k, ParamId id) {
  auto check = [&](const GaloisKeys& keys, const Gadget& gadget, const char* what) {
    const auto base_name = [](GadgetBase b) { return b == GadgetBase::composed ? "composed" : "per-prime"; };
    for (const auto& [g, key] : keys.keys())
      require(key.gadget() == gadget, ErrorCode::bad_parameters,
              std::string("linear server keys: ") + what + " Galois key " + std::to_string(g) + " has a " +
                  base_name(key.base) + " gadget of width " + std::to_string(key.decomposition_bits) +
                  ", the plans use a " + base_name(gadget.base) + " one of width " + std::to_string(gadget.bits));
  };
  check(k.galois, Gadget{linear_decomposition_bits(id)}, "packing");
  check(k.galois_composed, linear_packing_gadget(id), "composed packing");
  check(k.galois_input, linear_input_gadget(id), "input-side");
  check(k.galois_sequential, linear_sequential_gadget(id), "sequential");
  if (k.shared_mask)
    require(k.shared_mask->decomposition_bits == linear_decomposition_bits(id), ErrorCode::bad_parameters,
            "linear server keys: shared-mask key has gadget width " +
                std::to_string(k.shared_mask->decomposition_bits) + ", the plans use " +
                std::to_string(linear_decomposition_bits(id)));
  if (k.square)
    require(k.square->gadget() == Gadget{kLookupSquareKeyBits}, ErrorCode::bad_parameters,
            "linear server keys: square key has gadget width " + std::to_string(k.square->decomposition_bits) +
                ", the lookup uses " + std::to_string(kLookupSquareKeyBits));
}

}  // namespace

const LinearSessionKeys& LinearServerKeys::get(ParamId id) const {
  auto it = sets_.find(id);
  require(it != sets_.end(), ErrorCode::missing_galois_key,
          "no session keys for parameter set " + std::string(parameter_set(id).name));
  return it->second;
}

void LinearServerKeys::insert(LinearSessionKeys keys) {
  const ParamId id = keys.context->param_id();
  // The tree's and the sequential levels' key switches read 32-bit copies.
  for (GaloisKeys* set : {&keys.galois, &keys.galois_composed, &keys.galois_sequential}) {
    if (set->keys().empty()) continue;
    std::vector<std::pair<std::uint64_t, KeySwitchKey>> copies;
    for (const auto& [g, key] : set->keys()) copies.emplace_back(g, key);
    default_thread_pool().run(copies.size(), default_thread_pool().max_threads(), [&](std::size_t i) {
      if (!copies[i].second.b32) compact_key_words32(*keys.context, copies[i].second);
    });
    GaloisKeys compacted;
    for (auto& [g, key] : copies) compacted.insert(set->param_id(), g, std::move(key));
    *set = std::move(compacted);
  }
  if (keys.square && !keys.square->b32) compact_key_words32(*keys.context, *keys.square);
  if (!keys.input_hoisted && !keys.galois_input.keys().empty())
    keys.input_hoisted = std::make_shared<const HoistedGaloisKeys>(*keys.context, keys.galois_input);
  sets_[id] = std::move(keys);
}

void LinearServerKeys::keep_packing_for(int privacy_bits) {
  if (privacy_bits != 0) return;
  // S = 0 plans take the composed set wherever a session has one.
  for (auto& [id, k] : sets_)
    if (!k.galois_composed.keys().empty()) k.galois = GaloisKeys{};
}

namespace detail {

void write_linear_keys_header(ByteWriter& w, std::size_t sets) {
  w.bytes(ByteView(kKeysMagic, 4));
  w.u16(kLinearFormatVersion);
  w.u16(static_cast<std::uint16_t>(sets));
}

void write_linear_key_set(ByteWriter& w, const LinearSessionKeys& k) {
  auto blob = [&](const std::vector<std::uint8_t>& b) {
    w.u32(static_cast<std::uint32_t>(b.size()));
    w.bytes(b);
  };
  w.u16(static_cast<std::uint16_t>(k.context->param_id()));
  w.u16(0);
  blob(he::save(k.galois, *k.context));
  require(!(k.galois_input.keys().empty() && k.input_hoisted), ErrorCode::invalid_argument,
          "linear server keys: a loaded set keeps its input-side keys in the hoisted layout only and cannot be saved");
  if (k.galois_input.keys().empty()) {
    w.u32(0);
  } else {
    blob(he::save(k.galois_input, *k.context));
    blob(he::save(k.galois_sequential, *k.context));
  }
  blob(he::save(k.zero, *k.context));
  if (k.shared_mask) blob(he::save(*k.shared_mask, *k.context));
  else w.u32(0);
  if (k.square) blob(he::save(*k.square, *k.context));
  else w.u32(0);
  if (k.galois_composed.keys().empty()) w.u32(0);
  else blob(he::save(k.galois_composed, *k.context));
}

}  // namespace detail

std::vector<std::uint8_t> LinearServerKeys::save() const {
  Bytes out;
  ByteWriter w(out);
  detail::write_linear_keys_header(w, sets_.size());
  for (const auto& [id, k] : sets_) detail::write_linear_key_set(w, k);
  return out;
}

LinearServerKeys LinearServerKeys::load(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes, "linear server keys");
  require(std::memcmp(r.take(4).data(), kKeysMagic, 4) == 0, ErrorCode::bad_magic, "linear server keys: bad magic");
  require(r.u16() == kLinearFormatVersion, ErrorCode::bad_version, "linear server keys: bad version");
  const auto count = r.u16();
  // No set at all: a session for online calls only (docs/online.md), whose
  // encrypted calls get missing_galois_key.
  require(count <= all_parameter_ids().size(), ErrorCode::length_too_large,
          "linear server keys: " + std::to_string(count) + " parameter sets");
  LinearServerKeys keys;
  for (std::uint64_t i = 0; i < count; ++i) {
    const ParamId id = param_id_from_u16(static_cast<std::uint16_t>(r.u16()));
    require(r.u16() == 0, ErrorCode::bad_message, "linear server keys: reserved field not zero");
    require(!keys.has(id), ErrorCode::bad_message, "linear server keys: parameter set repeated");
    LinearSessionKeys k;
    k.context = Context::get(id);
    const auto gsize = r.u32();
    k.galois = load_galois_keys(*k.context, r.take(gsize));
    const auto gisize = r.u32();
    if (gisize > 0) {
      k.galois_input = load_galois_keys(*k.context, r.take(gisize));
      for (std::uint64_t e : linear_input_galois_elements(k.context->poly_degree()))
        require(k.galois_input.has(e), ErrorCode::missing_galois_key,
                "linear server keys: input-side Galois element " + std::to_string(e) + " missing");
      const auto gssize = r.u32();
      k.galois_sequential = load_galois_keys(*k.context, r.take(gssize));
      for (std::uint64_t e : linear_sequential_galois_elements(k.context->poly_degree()))
        require(k.galois_sequential.has(e), ErrorCode::missing_galois_key,
                "linear server keys: sequential Galois element " + std::to_string(e) + " missing");
    }
    const auto zsize = r.u32();
    k.zero = load_ciphertext(*k.context, r.take(zsize));
    if (const auto msize = r.u32(); msize > 0) {
      k.shared_mask = load_shared_mask_key(*k.context, r.take(msize));
      // The replies group packed cts by kLinearSharedMaskGroup: another size
      // would only fail later (or hold a larger key than the session needs).
      require(k.shared_mask->group() == kLinearSharedMaskGroup, ErrorCode::bad_message,
              "linear server keys: shared-mask key for groups of " + std::to_string(k.shared_mask->group()) +
                  ", expected " + std::to_string(kLinearSharedMaskGroup));
    }
    if (const auto qsize = r.u32(); qsize > 0) k.square = load_key_switch_key(*k.context, r.take(qsize));
    if (const auto csize = r.u32(); csize > 0) k.galois_composed = load_galois_keys(*k.context, r.take(csize));
    for (std::uint64_t e : packing_galois_elements(k.context->poly_degree())) {
      require(k.galois.has(e), ErrorCode::missing_galois_key,
              "linear server keys: Galois element " + std::to_string(e) + " missing");
      // The S = 0 plans' trees read the composed set.
      require(!linear_composed_packing_available(id) || k.galois_composed.has(e), ErrorCode::missing_galois_key,
              "linear server keys: composed packing Galois element " + std::to_string(e) + " missing");
    }
    require_pinned_widths(k, id);
    if (!k.zero.is_ntt_form()) Evaluator(k.context).transform_to_ntt_inplace(k.zero);
    keys.insert(std::move(k));
    // The server reads the input-side keys only in their hoisted 32-bit
    // layout where the context has it: the 64-bit copy (about 16 MB of a
    // GPT-2 session's 41 MB before this) goes.
    LinearSessionKeys& loaded = keys.sets_.at(id);
    if (loaded.input_hoisted && loaded.input_hoisted->element_count() == loaded.galois_input.keys().size())
      loaded.galois_input = GaloisKeys{};
    // The other keys' switches read their 32-bit copies (insert made them
    // where the primes allow): their 64-bit words go too, two thirds of each
    // key (6.7 MB of a n2048_q54 session).
    drop_key_words64(loaded.galois);
    drop_key_words64(loaded.galois_composed);
    drop_key_words64(loaded.galois_sequential);
    if (loaded.square) drop_key_words64(*loaded.square);
  }
  r.expect_end();
  return keys;
}

std::vector<LinearKeySetInfo> peek_linear_server_keys(std::span<const std::uint8_t> bytes) {
  ByteReader r(bytes, "linear server keys");
  require(std::memcmp(r.take(4).data(), kKeysMagic, 4) == 0, ErrorCode::bad_magic, "linear server keys: bad magic");
  require(r.u16() == kLinearFormatVersion, ErrorCode::bad_version, "linear server keys: bad version");
  const auto count = r.u16();
  // No set at all: an online-only session (as load), which holds no key.
  require(count <= all_parameter_ids().size(), ErrorCode::length_too_large,
          "linear server keys: " + std::to_string(count) + " parameter sets");
  std::vector<LinearKeySetInfo> sets;
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::size_t start = bytes.size() - r.remaining();
    LinearKeySetInfo info;
    info.id = param_id_from_u16(r.u16());
    require(r.u16() == 0, ErrorCode::bad_message, "linear server keys: reserved field not zero");
    for (const LinearKeySetInfo& other : sets)
      require(other.id != info.id, ErrorCode::bad_message, "linear server keys: parameter set repeated");
    r.take(r.u32());  // packing Galois keys
    if (const auto gisize = r.u32(); gisize > 0) {
      r.take(gisize);   // input-side Galois keys
      r.take(r.u32());  // sequential Galois keys
    }
    r.take(r.u32());  // encryption of zero
    r.take(r.u32());  // shared-mask key (may be empty)
    r.take(r.u32());  // square key (may be empty)
    r.take(r.u32());  // composed packing Galois keys (may be empty)
    info.bytes = bytes.size() - r.remaining() - start;
    sets.push_back(info);
  }
  r.expect_end();
  return sets;
}

}  // namespace fhellm::he
