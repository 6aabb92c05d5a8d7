// Pre-tokenizers of byte-level BPE: split text into the pieces that BPE then
// encodes one by one. Hand-written equivalents of the split regexes:
//
// GPT-2:   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Llama 3: (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//          ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// At each position the alternatives are tried in order, each with the
// regex's greedy/backtracking meaning, exactly as the `regex` module would.
// Bytes that are not valid UTF-8 count as single "other" characters.
#pragma once

#include <string_view>
#include <vector>

#include "tokenizer/byte_bpe_tokenizer.h"

namespace fhellm::tokenizer::detail {

// Pieces of `text` in order; their concatenation is `text`.
std::vector<std::string_view> pre_tokenize(PreTokenizer kind, std::string_view text);

}  // namespace fhellm::tokenizer::detail
