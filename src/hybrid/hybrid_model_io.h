// Text in and out of a HybridModel: finding the tokenizer that goes with a
// model, and turning a prompt into ids the way each architecture expects.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace fhellm::hybrid {

// `tokenizer_path` when given; else next to the model: the Hugging Face
// folder itself, then tokenizer.bin, tokenizer.model, tokenizer.json or
// tok<vocab>.bin in the model file's folder.
// @throws Error(file_not_found) naming the places tried, or the tokenizer's errors
std::unique_ptr<tokenizer::Tokenizer> load_tokenizer_for(const std::filesystem::path& tokenizer_path,
                                                        const std::filesystem::path& model_path,
                                                        const model::Model& model);

// Prompt ids: BOS first for Llama vocabularies; GPT-2 prompts get none, but
// an empty prompt starts from the model's BOS/EOS (<|endoftext|>).
// @throws Error(invalid_argument) for an empty prompt with no BOS/EOS to start from
std::vector<TokenId> encode_prompt(const tokenizer::Tokenizer& tok, const model::Model& model,
                                              const std::string& text);

// Token ids of a whole document for perplexity: as encode_prompt, never empty.
std::vector<TokenId> encode_document(const tokenizer::Tokenizer& tok, const model::Model& model,
                                                const std::string& text);

}  // namespace fhellm::hybrid
