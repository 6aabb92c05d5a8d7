// Encrypted selection bits: the external product of GSW-style schemes
// (RGSW; Gentry-Sahai-Waters 2013, as used by Spiral, Menon-Wu S&P 2022, for
// PIR) built from this library's key switching.
//
// For a bit b, a SelectionKey holds two key-switching-shaped halves under s:
//   times_one     digit d: (b_d, a_d) with b_d + a_d s = b g_d + e
//   times_secret  digit d: (b_d, a_d) with b_d + a_d s = b g_d s + e'
// g_d the gadget of KeySwitchKey (digit j of prime i: 2^(w j) in q_i only).
// Then key_switch(c0, times_one) + key_switch(c1, times_secret) decrypts to
// b (c0 + c1 s): the external product b * ct, whose noise is the digits of
// (c0, c1) times the halves' errors, plus b times ct's own noise.
//
// The server completes the key from the client's encryptions of b g_d
// (expanded from one upload, query_expansion.h) with the public square key
// (s^2 -> s): an encryption (c0, c1) of m becomes one of m s as
// (0, c0) + key_switch(c1, square), whose phase is s (m + e) + e_ks.
#pragma once

#include <vector>

#include "he/ciphertext.h"
#include "he/evaluator.h"
#include "he/keys.h"

namespace fhellm::he {

struct SelectionKey {
  KeySwitchKey times_one;
  KeySwitchKey times_secret;
};

// `scaled_gadget[d]` encrypts b g_d for every digit d of the gadget of width
// `decomposition_bits` (KeySwitchKey order: prime-major), any form; `square`
// is the session's key from s^2 to s.
// @throws Error(invalid_argument) for a wrong digit count, Error(parameter_mismatch).
SelectionKey make_selection_key(const Evaluator& ev, std::vector<Ciphertext> scaled_gadget, int decomposition_bits,
                                const KeySwitchKey& square);

// b * ct (ct in either form; the result in NTT form).
// @throws Error(parameter_mismatch).
Ciphertext external_product(const Evaluator& ev, const Ciphertext& ct, const SelectionKey& key);

// zero + b (one - zero), NTT form: `one` when b = 1, `zero` when b = 0 (the
// CMux gate). Both inputs in NTT form. @throws Error(parameter_mismatch).
Ciphertext select(const Evaluator& ev, const SelectionKey& key, const Ciphertext& zero, const Ciphertext& one);

}  // namespace fhellm::he
