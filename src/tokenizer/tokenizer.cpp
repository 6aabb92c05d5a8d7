#include "tokenizer/tokenizer.h"

#include "tokenizer/ggml_vocab.h"

#include <fstream>
#include <system_error>

#include "fhellm/error.h"
#include "tokenizer/byte_bpe_tokenizer.h"
#include "tokenizer/llama2c_tokenizer.h"
#include "tokenizer/metaspace_bpe_tokenizer.h"
#include "tokenizer/sentencepiece_tokenizer.h"
#include "tokenizer/file_util.h"
#include "tokenizer/utf8.h"

namespace fhellm::tokenizer {

namespace detail {

std::string read_whole_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw Error(ErrorCode::file_not_found, "tokenizer file '" + path.string() + "' not found");
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw Error(ErrorCode::io_error, "cannot stat '" + path.string() + "': " + ec.message());
  require(size <= kMaxTokenizerFileBytes, ErrorCode::bad_tokenizer_file,
          "tokenizer file '" + path.string() + "' has " + std::to_string(size) + " bytes, more than the limit of " +
              std::to_string(kMaxTokenizerFileBytes));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(ErrorCode::io_error, "cannot open '" + path.string() + "'");
  std::string bytes(static_cast<std::size_t>(size), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (static_cast<std::uintmax_t>(in.gcount()) != size)
    throw Error(ErrorCode::io_error, "short read on '" + path.string() + "'");
  return bytes;
}

}  // namespace detail

std::string Tokenizer::decode(std::span<const TokenId> ids) const {
  std::string text;
  TokenId previous = -1;
  for (TokenId id : ids) {
    if (!is_special(id)) text += token_bytes(previous, id);
    previous = id;
  }
  return text;
}

std::string StreamDecoder::push(TokenId id) {
  const TokenId previous = previous_;
  previous_ = id;
  if (tokenizer_.is_special(id)) return {};
  pending_ += tokenizer_.token_bytes(previous, id);
  const std::size_t ready = detail::complete_utf8_prefix(pending_);
  std::string out = detail::sanitize_utf8(std::string_view(pending_).substr(0, ready));
  pending_.erase(0, ready);
  return out;
}

std::string StreamDecoder::flush() {
  std::string out = detail::sanitize_utf8(pending_);
  pending_.clear();
  return out;
}

namespace {

bool is_byte_level_tokenizer_json(const std::filesystem::path& path) {
  // Cheap check without a full parse: byte-level files name the ByteLevel
  // pre-tokenizer or decoder.
  const std::string text = detail::read_whole_file(path);
  return text.find("\"ByteLevel\"") != std::string::npos;
}

// tokenizer.json holds either byte-level BPE (GPT-2, Llama 3) or
// SentencePiece-style "▁" BPE (Hugging Face exports of Llama 2, Mistral).
std::unique_ptr<Tokenizer> load_tokenizer_json(const std::filesystem::path& path) {
  if (is_byte_level_tokenizer_json(path)) return ByteBpeTokenizer::load_tokenizer_json(path);
  return MetaspaceBpeTokenizer::load_tokenizer_json(path);
}

std::unique_ptr<Tokenizer> load_from_directory(const std::filesystem::path& dir, std::size_t vocab_size_hint) {
  std::error_code ec;
  const auto has = [&](const char* name) { return std::filesystem::is_regular_file(dir / name, ec); };
  // A SentencePiece model is read by libsentencepiece itself when its .model
  // is there; its tokenizer.json export is the fallback.
  if (has("tokenizer.json") && (!has("tokenizer.model") || is_byte_level_tokenizer_json(dir / "tokenizer.json")))
    return load_tokenizer_json(dir / "tokenizer.json");
  if (has("vocab.json") && has("merges.txt"))
    return ByteBpeTokenizer::load_vocab_merges(dir / "vocab.json", dir / "merges.txt");
  if (has("tokenizer.model")) return SentencePieceTokenizer::load(dir / "tokenizer.model");
  if (has("tokenizer.bin")) return Llama2cTokenizer::load(dir / "tokenizer.bin", vocab_size_hint);
  throw Error(ErrorCode::file_not_found,
              "directory '" + dir.string() +
                  "' holds no tokenizer.json, vocab.json + merges.txt, tokenizer.model or tokenizer.bin");
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& path, std::size_t vocab_size_hint) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return load_from_directory(path, vocab_size_hint);
  if (!std::filesystem::is_regular_file(path, ec))
    throw Error(ErrorCode::file_not_found, "tokenizer '" + path.string() + "' not found");
  const std::string ext = path.extension().string();
  if (ext == ".model") return SentencePieceTokenizer::load(path);
  if (ext == ".bin") return Llama2cTokenizer::load(path, vocab_size_hint);
  if (ext == ".txt" && path.filename() == "merges.txt")
    return ByteBpeTokenizer::load_vocab_merges(path.parent_path() / "vocab.json", path);
  if (ext == ".json") {
    if (path.filename().string().ends_with(".ggml-vocab.json")) {  // a GGUF's vocabulary, as artifacts carry it
      std::ifstream in(path, std::ios::binary);
      const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      return tokenizer_from_ggml_vocab(ggml_vocab_from_json(text, path.string()));
    }
    if (path.filename() == "vocab.json")
      return ByteBpeTokenizer::load_vocab_merges(path, path.parent_path() / "merges.txt");
    return load_tokenizer_json(path);
  }
  // Unknown extension: look at the first bytes. A SentencePiece protobuf
  // starts with field 1 (0x0A) and a non-zero length; tokenizer.bin starts
  // with a small little-endian int32, so its second byte is 0 when its first
  // is 0x0A.
  std::string head(2, '\0');
  {
    std::ifstream in(path, std::ios::binary);
    in.read(head.data(), 2);
    head.resize(static_cast<std::size_t>(in.gcount()));
  }
  require(!head.empty(), ErrorCode::bad_tokenizer_file, "tokenizer file '" + path.string() + "' is empty");
  if (head[0] == '{') return load_tokenizer_json(path);
  if (head.size() == 2 && head[0] == '\x0a' && head[1] != '\0') return SentencePieceTokenizer::load(path);
  return Llama2cTokenizer::load(path, vocab_size_hint);
}

}  // namespace fhellm::tokenizer
