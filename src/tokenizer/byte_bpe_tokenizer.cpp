#include "tokenizer/byte_bpe_tokenizer.h"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fhellm/error.h"
#include "tokenizer/bpe_merge.h"
#include "tokenizer/file_util.h"
#include "tokenizer/hf_json.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/utf8.h"

namespace fhellm::tokenizer {
namespace {

using detail::kMaxTokenId;
using detail::parse_json;
using detail::read_vocab_object;
using detail::split_merge;
using detail::checked_id;
using detail::template_bos;
using detail::token_content;

constexpr std::size_t kMaxCachedPieceBytes = 256;
constexpr std::size_t kMaxCacheEntries = std::size_t{1} << 16;

// The Split pattern of Llama 3's tokenizer.json, exactly.
constexpr std::string_view kLlama3Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
constexpr std::string_view kGpt2Pattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// Inverse of bytes_to_unicode(): code points below 0x144 back to bytes.
const std::array<std::int16_t, 0x144>& unicode_to_byte() {
  static const std::array<std::int16_t, 0x144> table = [] {
    std::array<std::int16_t, 0x144> t;
    t.fill(-1);
    const auto& forward = ByteBpeTokenizer::byte_to_unicode();
    for (int b = 0; b < 256; ++b) t[forward[static_cast<std::size_t>(b)]] = static_cast<std::int16_t>(b);
    return t;
  }();
  return table;
}

// Token text in the byte-to-unicode alphabet -> raw bytes. Characters outside
// the alphabet (not produced by byte-level training) are kept as UTF-8.
std::string unmap_token(std::string_view token) {
  std::string raw;
  raw.reserve(token.size());
  const auto& inverse = unicode_to_byte();
  for (std::size_t pos = 0; pos < token.size();) {
    std::size_t len;
    const char32_t cp = detail::decode_utf8(token, pos, len);
    if (cp < inverse.size() && inverse[cp] >= 0) {
      raw.push_back(static_cast<char>(inverse[cp]));
    } else {
      raw.append(token.substr(pos, len));
    }
    pos += len;
  }
  return raw;
}

}  // namespace

const std::array<char32_t, 256>& ByteBpeTokenizer::byte_to_unicode() {
  static const std::array<char32_t, 256> table = [] {
    std::array<char32_t, 256> t{};
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      t[static_cast<std::size_t>(b)] = printable ? static_cast<char32_t>(b) : next++;
    }
    return t;
  }();
  return table;
}

ByteBpeTokenizer::ByteBpeTokenizer(const ByteBpeVocab& vocab)
    : pre_tokenizer_(vocab.pre_tokenizer), add_prefix_space_(vocab.add_prefix_space) {
  require(vocab.tokens.size() <= static_cast<std::size_t>(kMaxTokenId), ErrorCode::bad_tokenizer_file,
          "byte-level vocabulary of " + std::to_string(vocab.tokens.size()) + " tokens is too large");
  std::size_t size = vocab.tokens.size();
  for (const AddedToken& t : vocab.added_tokens) {
    require(t.id >= 0 && t.id < kMaxTokenId, ErrorCode::bad_tokenizer_file,
            "added token '" + t.content + "' has id " + std::to_string(t.id) + " out of range");
    size = std::max(size, static_cast<std::size_t>(t.id) + 1);
  }
  id_to_bytes_.resize(size);
  special_.assign(size, 0);
  bytes_to_id_.reserve(vocab.tokens.size());
  for (std::size_t id = 0; id < vocab.tokens.size(); ++id) {
    if (vocab.tokens[id].empty()) continue;
    id_to_bytes_[id] = unmap_token(vocab.tokens[id]);
    bytes_to_id_.emplace(id_to_bytes_[id], static_cast<TokenId>(id));
  }
  for (const AddedToken& t : vocab.added_tokens) {
    id_to_bytes_[static_cast<std::size_t>(t.id)] = t.content;
    special_[static_cast<std::size_t>(t.id)] = t.special ? 1 : 0;
    if (!t.content.empty()) added_tokens_.push_back(t);
  }
  std::stable_sort(added_tokens_.begin(), added_tokens_.end(),
                   [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
  for (unsigned b = 0; b < 256; ++b) {
    const TokenId id = find(std::string(1, static_cast<char>(b)));
    require(id >= 0, ErrorCode::bad_tokenizer_file,
            "byte-level vocabulary has no token for byte " + std::to_string(b));
    byte_id_[b] = id;
  }
  merges_.reserve(vocab.merges.size());
  std::uint32_t rank = 0;
  for (const auto& [left, right] : vocab.merges) {
    const std::string a = unmap_token(left);
    const std::string b = unmap_token(right);
    const TokenId ia = find(a);
    const TokenId ib = find(b);
    const TokenId merged = find(a + b);
    if (ia >= 0 && ib >= 0 && merged >= 0) {
      const std::uint64_t key = (static_cast<std::uint64_t>(ia) << 32) | static_cast<std::uint32_t>(ib);
      merges_.emplace(key, Merge{rank, merged});  // the first (lowest) rank wins
    }
    ++rank;
  }
  const auto valid = [&](TokenId id) { return id >= 0 && static_cast<std::size_t>(id) < size; };
  bos_ = valid(vocab.bos) ? vocab.bos : -1;
  eos_ = valid(vocab.eos) ? vocab.eos : -1;
}

std::unique_ptr<ByteBpeTokenizer> ByteBpeTokenizer::load_vocab_merges(const std::filesystem::path& vocab_json,
                                                                      const std::filesystem::path& merges_txt) {
  const std::string vocab_name = vocab_json.string();
  const std::string merges_name = merges_txt.string();
  ByteBpeVocab v;
  v.tokens = read_vocab_object(parse_json(detail::read_whole_file(vocab_json), vocab_name), vocab_name);
  const std::string merges = detail::read_whole_file(merges_txt);
  std::string_view rest = merges;
  bool first_line = true;
  while (!rest.empty()) {
    const std::size_t eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (first_line && line.substr(0, 8) == "#version") {
      first_line = false;
      continue;
    }
    first_line = false;
    if (line.empty()) continue;
    v.merges.push_back(split_merge(line, v.merges.size(), merges_name));
  }
  // GPT-2's only special token is an ordinary vocabulary entry; it ends text.
  for (std::size_t id = 0; id < v.tokens.size(); ++id)
    if (v.tokens[id] == "<|endoftext|>") v.eos = static_cast<TokenId>(id);
  return std::make_unique<ByteBpeTokenizer>(v);
}

std::unique_ptr<ByteBpeTokenizer> ByteBpeTokenizer::load_tokenizer_json(const std::filesystem::path& path) {
  const std::string name = path.string();
  const nlohmann::json j = parse_json(detail::read_whole_file(path), name);
  require(j.is_object() && j.contains("model") && j["model"].is_object(), ErrorCode::bad_tokenizer_file,
          "'" + name + "' has no \"model\" object");
  const auto& model = j["model"];
  const std::string type = model.value("type", std::string("BPE"));
  require(type == "BPE", ErrorCode::bad_tokenizer_file,
          "'" + name + "': model type '" + type + "' is not supported (only BPE)");
  require(model.contains("vocab") && model.contains("merges") && model["merges"].is_array(),
          ErrorCode::bad_tokenizer_file, "'" + name + "': the BPE model lacks vocab or merges");

  ByteBpeVocab v;
  v.tokens = read_vocab_object(model["vocab"], name);
  v.merges = detail::read_merges(model["merges"], name);
  v.added_tokens = detail::read_added_tokens(j, name);

  // Byte-level BPE is recognised by its ByteLevel pre-tokenizer or decoder;
  // the split pattern, when a Split step is there, picks the pre-tokenizer.
  const nlohmann::json pre = j.contains("pre_tokenizer") ? j["pre_tokenizer"] : nlohmann::json();
  const nlohmann::json decoder = j.contains("decoder") ? j["decoder"] : nlohmann::json();
  std::vector<nlohmann::json> steps;
  if (pre.is_object() && pre.value("type", std::string()) == "Sequence" && pre.contains("pretokenizers") &&
      pre["pretokenizers"].is_array()) {
    for (const auto& s : pre["pretokenizers"]) steps.push_back(s);
  } else if (pre.is_object()) {
    steps.push_back(pre);
  }
  bool byte_level = decoder.is_object() && decoder.value("type", std::string()) == "ByteLevel";
  for (const auto& s : steps) {
    if (!s.is_object()) continue;
    const std::string step = s.value("type", std::string());
    if (step == "ByteLevel") {
      byte_level = true;
      v.add_prefix_space = s.value("add_prefix_space", false);
    } else if (step == "Split") {
      std::string pattern;
      if (s.contains("pattern") && s["pattern"].is_object()) {
        const auto& p = s["pattern"];
        if (p.contains("Regex") && p["Regex"].is_string()) pattern = p["Regex"].get<std::string>();
      }
      if (pattern == kLlama3Pattern) {
        v.pre_tokenizer = PreTokenizer::llama3;
      } else if (pattern != kGpt2Pattern) {
        throw Error(ErrorCode::bad_tokenizer_file,
                    "'" + name + "': the pre-tokenizer split pattern is neither GPT-2's nor Llama 3's");
      }
    }
  }
  require(byte_level, ErrorCode::bad_tokenizer_file,
          "'" + name + "' is not a byte-level BPE (no ByteLevel pre-tokenizer or decoder); "
          "for a SentencePiece model use its tokenizer.model");

  const auto id_of = [&](const std::string& content) -> TokenId {
    for (const AddedToken& t : v.added_tokens)
      if (t.content == content) return t.id;
    for (std::size_t id = 0; id < v.tokens.size(); ++id)
      if (v.tokens[id] == content) return static_cast<TokenId>(id);
    return -1;
  };
  if (j.contains("post_processor")) {
    const std::string bos = template_bos(j["post_processor"]);
    if (!bos.empty()) v.bos = id_of(bos);
  }
  const auto config_path = path.parent_path() / "tokenizer_config.json";
  std::error_code ec;
  if (std::filesystem::is_regular_file(config_path, ec)) {
    const nlohmann::json config = parse_json(detail::read_whole_file(config_path), config_path.string());
    if (config.is_object() && config.contains("eos_token")) v.eos = id_of(token_content(config["eos_token"]));
  }
  for (const char* candidate : {"<|endoftext|>", "<|end_of_text|>", "</s>"}) {
    if (v.eos < 0) v.eos = id_of(candidate);
  }
  return std::make_unique<ByteBpeTokenizer>(v);
}

TokenId ByteBpeTokenizer::find(std::string_view raw_bytes) const {
  const auto it = bytes_to_id_.find(std::string(raw_bytes));
  return it == bytes_to_id_.end() ? -1 : it->second;
}

bool ByteBpeTokenizer::is_special(TokenId id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= special_.size()) return false;
  return special_[static_cast<std::size_t>(id)] != 0 || id == bos_ || id == eos_;
}

std::string ByteBpeTokenizer::token_bytes(TokenId previous, TokenId id) const {
  require(id >= 0 && static_cast<std::size_t>(id) < id_to_bytes_.size(), ErrorCode::unknown_token,
          "token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(id_to_bytes_.size()));
  return id_to_bytes_[static_cast<std::size_t>(id)];
}

std::vector<TokenId> ByteBpeTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 2);
  if (add_bos && bos_ >= 0) out.push_back(bos_);
  // Added tokens are cut out first (leftmost, longest); the text between
  // them is encoded normally.
  detail::split_on_added_tokens(
      text, added_tokens_, [&](std::string_view segment) { encode_ordinary(segment, out); },
      [&](const AddedToken& token) { out.push_back(token.id); });
  return out;
}

void ByteBpeTokenizer::encode_ordinary(std::string_view text, std::vector<TokenId>& out) const {
  if (text.empty()) return;
  std::string prefixed;
  if (add_prefix_space_ && text[0] != ' ') {
    prefixed = " ";
    prefixed += text;
    text = prefixed;
  }
  for (std::string_view piece : detail::pre_tokenize(pre_tokenizer_, text)) encode_piece(piece, out);
}

void ByteBpeTokenizer::encode_piece(std::string_view piece, std::vector<TokenId>& out) const {
  if (piece.size() == 1) {
    out.push_back(byte_id_[static_cast<unsigned char>(piece[0])]);
    return;
  }
  const bool cacheable = piece.size() <= kMaxCachedPieceBytes;
  if (cacheable) {
    std::lock_guard lock(cache_mutex_);
    const auto it = cache_.find(std::string(piece));
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<TokenId> ids = bpe(piece);
  out.insert(out.end(), ids.begin(), ids.end());
  if (cacheable) {
    std::lock_guard lock(cache_mutex_);
    if (cache_.size() >= kMaxCacheEntries) cache_.clear();
    cache_.emplace(std::string(piece), std::move(ids));
  }
}

std::vector<TokenId> ByteBpeTokenizer::bpe(std::string_view piece) const {
  // Merge the lowest-rank adjacent pair, leftmost on ties, until none is a merge.
  std::vector<TokenId> symbols(piece.size());
  for (std::size_t k = 0; k < piece.size(); ++k) symbols[k] = byte_id_[static_cast<unsigned char>(piece[k])];
  std::vector<TokenId> ids;
  detail::merge_bpe<std::less<>>(
      symbols,
      [&](TokenId a, TokenId b) -> std::optional<detail::MergeChoice<std::uint32_t>> {
        const auto it = merges_.find((static_cast<std::uint64_t>(a) << 32) | static_cast<std::uint32_t>(b));
        if (it == merges_.end()) return std::nullopt;
        return detail::MergeChoice<std::uint32_t>{it->second.rank, it->second.merged};
      },
      ids);
  return ids;
}

}  // namespace fhellm::tokenizer
