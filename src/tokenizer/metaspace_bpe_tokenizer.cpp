#include "tokenizer/metaspace_bpe_tokenizer.h"

#include <algorithm>

#include "fhellm/error.h"
#include "tokenizer/bpe_merge.h"
#include "tokenizer/file_util.h"
#include "tokenizer/hf_json.h"
#include "tokenizer/utf8.h"
#include "tokenizer/sentencepiece_pieces.h"

namespace fhellm::tokenizer {
namespace {

using detail::byte_piece_name;
using detail::byte_piece_value;
using detail::kSpaceMark;

std::string spaces_to_marks(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 4);
  for (char c : text) {
    if (c == ' ') {
      out += kSpaceMark;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace

MetaspaceBpeTokenizer::MetaspaceBpeTokenizer(const MetaspaceBpeVocab& v)
    : prepend_space_(v.prepend_space), split_words_(v.split_words), byte_fallback_(v.byte_fallback) {
  std::size_t size = v.tokens.size();
  for (const AddedToken& t : v.added_tokens) {
    require(t.id >= 0 && t.id < detail::kMaxTokenId, ErrorCode::bad_tokenizer_file,
            "added token '" + t.content + "' has id " + std::to_string(t.id) + " out of range");
    size = std::max(size, static_cast<std::size_t>(t.id) + 1);
  }
  require(size > 0 && size <= static_cast<std::size_t>(detail::kMaxTokenId), ErrorCode::bad_tokenizer_file,
          "vocabulary of " + std::to_string(size) + " tokens is empty or too large");
  pieces_.resize(size);
  special_.assign(size, 0);
  for (std::size_t id = 0; id < v.tokens.size(); ++id) {
    if (v.tokens[id].empty()) continue;
    pieces_[id] = v.tokens[id];
    piece_to_id_.emplace(v.tokens[id], static_cast<TokenId>(id));
  }
  for (const AddedToken& t : v.added_tokens) {
    pieces_[static_cast<std::size_t>(t.id)] = t.content;
    special_[static_cast<std::size_t>(t.id)] = t.special ? 1 : 0;
    if (!t.content.empty()) added_tokens_.push_back(t);
  }
  std::stable_sort(added_tokens_.begin(), added_tokens_.end(),
                   [](const AddedToken& a, const AddedToken& b) { return a.content.size() > b.content.size(); });
  for (unsigned b = 0; b < 256; ++b) {
    const auto it = piece_to_id_.find(byte_piece_name(b));
    byte_id_[b] = it == piece_to_id_.end() ? -1 : it->second;
  }
  std::uint32_t rank = 0;
  merges_.reserve(v.merges.size());
  for (const auto& [left, right] : v.merges) {
    const auto a = piece_to_id_.find(left), b = piece_to_id_.find(right), m = piece_to_id_.find(left + right);
    if (a != piece_to_id_.end() && b != piece_to_id_.end() && m != piece_to_id_.end()) {
      const std::uint64_t key = (static_cast<std::uint64_t>(a->second) << 32) | static_cast<std::uint32_t>(b->second);
      merges_.emplace(key, Merge{rank, m->second});
    }
    ++rank;
  }
  const auto valid = [&](TokenId id) { return id >= 0 && static_cast<std::size_t>(id) < size; };
  unk_ = valid(v.unk) ? v.unk : -1;
  bos_ = valid(v.bos) ? v.bos : -1;
  eos_ = valid(v.eos) ? v.eos : -1;
}

std::unique_ptr<MetaspaceBpeTokenizer> MetaspaceBpeTokenizer::load_tokenizer_json(const std::filesystem::path& path) {
  const std::string name = path.string();
  const nlohmann::json j = detail::parse_json(detail::read_whole_file(path), name);
  require(j.is_object() && j.contains("model") && j["model"].is_object(), ErrorCode::bad_tokenizer_file,
          "'" + name + "' has no \"model\" object");
  const auto& model = j["model"];
  const std::string type = model.value("type", std::string("BPE"));
  require(type == "BPE", ErrorCode::bad_tokenizer_file,
          "'" + name + "': model type '" + type + "' is not supported (only BPE)");
  require(model.contains("vocab") && model.contains("merges"), ErrorCode::bad_tokenizer_file,
          "'" + name + "': the BPE model lacks vocab or merges");
  MetaspaceBpeVocab v;
  v.tokens = detail::read_vocab_object(model["vocab"], name);
  v.merges = detail::read_merges(model["merges"], name);
  v.added_tokens = detail::read_added_tokens(j, name);
  v.byte_fallback = model.value("byte_fallback", false);

  // Where the "▁" handling is declared: normalizer (Prepend + Replace), or a
  // Metaspace pre-tokenizer.
  bool metaspace = false;
  v.prepend_space = false;
  const auto visit_normalizer = [&](const nlohmann::json& n) {
    if (!n.is_object()) return;
    const std::string t = n.value("type", std::string());
    if (t == "Prepend" && n.value("prepend", std::string()) == kSpaceMark) v.prepend_space = true;
    if (t == "Replace" && n.contains("content") && n["content"] == kSpaceMark) metaspace = true;
  };
  if (j.contains("normalizer") && j["normalizer"].is_object()) {
    const auto& n = j["normalizer"];
    if (n.value("type", std::string()) == "Sequence" && n.contains("normalizers") && n["normalizers"].is_array()) {
      for (const auto& x : n["normalizers"]) visit_normalizer(x);
    } else {
      visit_normalizer(n);
    }
  }
  const auto visit_pre = [&](const nlohmann::json& p) {
    if (!p.is_object() || p.value("type", std::string()) != "Metaspace") return;
    require(p.value("replacement", std::string(kSpaceMark)) == kSpaceMark, ErrorCode::bad_tokenizer_file,
            "'" + name + "': Metaspace replacement other than \"\xE2\x96\x81\" is not supported");
    metaspace = true;
    const std::string scheme = p.value("prepend_scheme", std::string(p.value("add_prefix_space", true) ? "always" : "never"));
    v.prepend_space = scheme != "never";
    v.split_words = p.value("split", true);
  };
  if (j.contains("pre_tokenizer") && j["pre_tokenizer"].is_object()) {
    const auto& p = j["pre_tokenizer"];
    if (p.value("type", std::string()) == "Sequence" && p.contains("pretokenizers") && p["pretokenizers"].is_array()) {
      for (const auto& x : p["pretokenizers"]) visit_pre(x);
    } else {
      visit_pre(p);
    }
  }
  require(metaspace, ErrorCode::bad_tokenizer_file,
          "'" + name + "' is neither byte-level nor SentencePiece-style (\"\xE2\x96\x81\") BPE");

  const auto id_of = [&](const std::string& content) -> TokenId {
    for (const AddedToken& t : v.added_tokens)
      if (t.content == content) return t.id;
    for (std::size_t id = 0; id < v.tokens.size(); ++id)
      if (v.tokens[id] == content) return static_cast<TokenId>(id);
    return -1;
  };
  if (model.contains("unk_token") && model["unk_token"].is_string()) v.unk = id_of(model["unk_token"].get<std::string>());
  if (j.contains("post_processor")) {
    const std::string bos = detail::template_bos(j["post_processor"]);
    if (!bos.empty()) v.bos = id_of(bos);
  }
  const auto config_path = path.parent_path() / "tokenizer_config.json";
  std::error_code ec;
  if (std::filesystem::is_regular_file(config_path, ec)) {
    const nlohmann::json config = detail::parse_json(detail::read_whole_file(config_path), config_path.string());
    if (config.is_object() && config.contains("eos_token")) v.eos = id_of(detail::token_content(config["eos_token"]));
    if (v.bos < 0 && config.is_object() && config.contains("bos_token"))
      v.bos = id_of(detail::token_content(config["bos_token"]));
  }
  if (v.bos < 0) v.bos = id_of("<s>");
  if (v.eos < 0) v.eos = id_of("</s>");
  return std::make_unique<MetaspaceBpeTokenizer>(v);
}

bool MetaspaceBpeTokenizer::is_special(TokenId id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= special_.size()) return false;
  return special_[static_cast<std::size_t>(id)] != 0 || id == bos_ || id == eos_;
}

std::string MetaspaceBpeTokenizer::token_bytes(TokenId previous, TokenId id) const {
  require(id >= 0 && static_cast<std::size_t>(id) < pieces_.size(), ErrorCode::unknown_token,
          "token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(pieces_.size()));
  const std::string& piece = pieces_[static_cast<std::size_t>(id)];
  const int byte = byte_piece_value(piece);
  if (byte >= 0) return std::string(1, static_cast<char>(byte));
  return detail::space_marked_piece_text(piece, previous >= 0 && previous == bos_);
}

std::vector<TokenId> MetaspaceBpeTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<TokenId> out;
  if (add_bos && bos_ >= 0) out.push_back(bos_);
  bool first_segment = true;
  const auto flush = [&](std::string_view part) {
    if (!part.empty()) {
      // The dummy prefix goes before the first text only (prepend_scheme "first").
      std::string normalized = (prepend_space_ && first_segment) ? std::string(kSpaceMark) : std::string();
      normalized += spaces_to_marks(part);
      encode_ordinary(normalized, out);
    }
    first_segment = false;
  };
  detail::split_on_added_tokens(
      text, added_tokens_, [&](std::string_view part) { flush(part); },
      [&](const AddedToken& token) { out.push_back(token.id); });
  return out;
}

void MetaspaceBpeTokenizer::encode_ordinary(std::string_view text, std::vector<TokenId>& out) const {
  if (!split_words_) {
    encode_word(text, out);
    return;
  }
  // Metaspace split: words start at each "▁".
  std::size_t start = 0;
  for (std::size_t pos = text.find(kSpaceMark, 1); pos != std::string_view::npos;
       pos = text.find(kSpaceMark, pos + kSpaceMark.size())) {
    encode_word(text.substr(start, pos - start), out);
    start = pos;
  }
  encode_word(text.substr(start), out);
}

void MetaspaceBpeTokenizer::encode_word(std::string_view word, std::vector<TokenId>& out) const {
  // Symbols: one per character; unknown characters become byte tokens (or
  // <unk>), which never merge.
  std::vector<TokenId> symbols;
  symbols.reserve(word.size());
  for (std::size_t pos = 0; pos < word.size();) {
    std::size_t len;
    detail::decode_utf8(word, pos, len);
    const auto it = piece_to_id_.find(std::string(word.substr(pos, len)));
    if (it != piece_to_id_.end()) {
      symbols.push_back(it->second);
    } else if (byte_fallback_ && std::all_of(word.begin() + static_cast<std::ptrdiff_t>(pos),
                                             word.begin() + static_cast<std::ptrdiff_t>(pos + len),
                                             [&](char c) { return byte_id_[static_cast<unsigned char>(c)] >= 0; })) {
      for (std::size_t k = 0; k < len; ++k) symbols.push_back(byte_id_[static_cast<unsigned char>(word[pos + k])]);
    } else if (unk_ >= 0) {
      if (symbols.empty() || symbols.back() != unk_) symbols.push_back(unk_);  // fuse_unk
    }
    pos += len;
  }
  // Lowest merge rank first, leftmost on ties.
  detail::merge_bpe<std::less<>>(
      symbols,
      [&](TokenId a, TokenId b) -> std::optional<detail::MergeChoice<std::uint32_t>> {
        const auto it = merges_.find((static_cast<std::uint64_t>(a) << 32) | static_cast<std::uint32_t>(b));
        if (it == merges_.end()) return std::nullopt;
        return detail::MergeChoice<std::uint32_t>{it->second.rank, it->second.merged};
      },
      out);
}

}  // namespace fhellm::tokenizer
