#include "tokenizer/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include "fhellm/error.h"
#include "tokenizer/file_util.h"
#include "tokenizer/sentencepiece_pieces.h"

namespace fhellm::tokenizer {
namespace {

using detail::hex_digit_value;

}  // namespace

SentencePieceTokenizer::SentencePieceTokenizer()
    : processor_(std::make_unique<sentencepiece::SentencePieceProcessor>()) {}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::load(const std::filesystem::path& path) {
  // Read the bytes ourselves: same size limit and error codes as the others.
  return parse(detail::read_whole_file(path), path.string());
}

std::unique_ptr<SentencePieceTokenizer> SentencePieceTokenizer::parse(const std::string& serialized,
                                                                      const std::string& name) {
  std::unique_ptr<SentencePieceTokenizer> t(new SentencePieceTokenizer());
  const auto status = t->processor_->LoadFromSerializedProto(serialized);
  require(status.ok(), ErrorCode::bad_tokenizer_file,
          "SentencePiece model '" + name + "' cannot be loaded: " + status.ToString());
  const int size = t->processor_->GetPieceSize();
  require(size > 0, ErrorCode::bad_tokenizer_file, "SentencePiece model '" + name + "' has no piece");
  t->vocab_size_ = static_cast<std::size_t>(size);
  t->bos_ = t->processor_->bos_id();
  t->eos_ = t->processor_->eos_id();
  if (t->bos_ >= size) t->bos_ = -1;
  if (t->eos_ >= size) t->eos_ = -1;
  return t;
}

std::vector<TokenId> SentencePieceTokenizer::encode(std::string_view text, bool add_bos) const {
  std::vector<int> ids;
  const auto status = processor_->Encode(text, &ids);
  require(status.ok(), ErrorCode::invalid_argument, "SentencePiece cannot encode the text: " + status.ToString());
  std::vector<TokenId> out;
  out.reserve(ids.size() + 1);
  if (add_bos && bos_ >= 0) out.push_back(bos_);
  out.insert(out.end(), ids.begin(), ids.end());
  return out;
}

bool SentencePieceTokenizer::is_special(TokenId id) const {
  return id >= 0 && static_cast<std::size_t>(id) < vocab_size_ && processor_->IsControl(id);
}

std::string SentencePieceTokenizer::token_bytes(TokenId previous, TokenId id) const {
  require(id >= 0 && static_cast<std::size_t>(id) < vocab_size_, ErrorCode::unknown_token,
          "token id " + std::to_string(id) + " is outside the vocabulary of " + std::to_string(vocab_size_));
  if (processor_->IsControl(id)) return {};
  const std::string& piece = processor_->IdToPiece(id);
  if (processor_->IsByte(id) && piece.size() == 6) {
    const int hi = hex_digit_value(piece[3]);
    const int lo = hex_digit_value(piece[4]);
    if (hi >= 0 && lo >= 0) return std::string(1, static_cast<char>(hi * 16 + lo));
  }
  if (processor_->IsUnknown(id)) return " \xE2\x81\x87 ";  // " ⁇ ", what SentencePiece prints for <unk>
  return detail::space_marked_piece_text(piece, previous >= 0 && previous == bos_);
}

}  // namespace fhellm::tokenizer
