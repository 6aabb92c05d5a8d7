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
// The tokenizer is checked against the model (check_tokenizer_matches).
// @throws Error(file_not_found) naming the places tried, Error(tokenizer_mismatch),
//         or the tokenizer's errors
std::unique_ptr<tokenizer::Tokenizer> load_tokenizer_for(const std::filesystem::path& tokenizer_path,
                                                        const std::filesystem::path& model_path,
                                                        const model::Model& model);

// A tokenizer that does not go with the model would run and print garbage:
// its vocabulary must fit the model's (no id past it; at most 1/8 of the
// model's rows without a token, the padding some models add), BOS and EOS
// must be the model's where both name one, and a sample text must come back
// from encode and decode with every id inside the model's vocabulary.
// @throws Error(tokenizer_mismatch) saying which check failed
void check_tokenizer_matches(const tokenizer::Tokenizer& tok, const model::Model& model, const std::string& name);

// Prompt ids: BOS first for Llama vocabularies; GPT-2 prompts get none, but
// an empty prompt starts from the model's BOS/EOS (<|endoftext|>).
// @throws Error(invalid_argument) for an empty prompt with no BOS/EOS to start from
std::vector<TokenId> encode_prompt(const tokenizer::Tokenizer& tok, const model::Model& model,
                                              const std::string& text);

// Token ids of a whole document for perplexity: as encode_prompt, never empty.
std::vector<TokenId> encode_document(const tokenizer::Tokenizer& tok, const model::Model& model,
                                                const std::string& text);

}  // namespace fhellm::hybrid
