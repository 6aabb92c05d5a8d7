// Tokenizer load and encode speed on the real vocabularies in ../shared.
//   fhellm_bench_tokenizer --benchmark_filter=...
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tokenizer/byte_bpe_tokenizer.h"
#include "tokenizer/llama2c_tokenizer.h"
#include "tokenizer/sentencepiece_tokenizer.h"

namespace {

namespace fs = std::filesystem;
using namespace fhellm::tokenizer;

// $FHELLM_SHARED_DIR, else ../shared next to the source tree
// (this file is <repo>/bench/tokenizer/tokenizer_bench.cpp).
fs::path shared_dir() {
  if (const char* env = std::getenv("FHELLM_SHARED_DIR")) return env;
  return fs::path(__FILE__).parent_path().parent_path().parent_path().parent_path() / "shared";
}

const fs::path kModels = shared_dir() / "models";

std::string eval_text() {
  std::ifstream in(shared_dir() / "reference/eval_vimdoc.txt");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void BM_LoadGpt2VocabMerges(benchmark::State& state) {
  for (auto _ : state) {
    auto t = ByteBpeTokenizer::load_vocab_merges(kModels / "gpt2-tokenizer/vocab.json",
                                                 kModels / "gpt2-tokenizer/merges.txt");
    benchmark::DoNotOptimize(t.get());
  }
}
BENCHMARK(BM_LoadGpt2VocabMerges)->Unit(benchmark::kMillisecond);

void BM_LoadLlama2TokenizerBin(benchmark::State& state) {
  for (auto _ : state) {
    auto t = Llama2cTokenizer::load(kModels / "llama2-tokenizer/tokenizer.bin", 32000);
    benchmark::DoNotOptimize(t.get());
  }
}
BENCHMARK(BM_LoadLlama2TokenizerBin)->Unit(benchmark::kMillisecond);

// Encode 4000 bytes of English text; Arg(0) = a fresh tokenizer each time
// (cold piece cache), Arg(1) = warm cache.
void BM_EncodeGpt2(benchmark::State& state) {
  const std::string text = eval_text();
  auto t = ByteBpeTokenizer::load_vocab_merges(kModels / "gpt2-tokenizer/vocab.json",
                                               kModels / "gpt2-tokenizer/merges.txt");
  const bool warm = state.range(0) != 0;
  if (warm) t->encode(text, false);
  for (auto _ : state) {
    if (!warm) {
      state.PauseTiming();
      t = ByteBpeTokenizer::load_vocab_merges(kModels / "gpt2-tokenizer/vocab.json",
                                              kModels / "gpt2-tokenizer/merges.txt");
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(t->encode(text, false));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_EncodeGpt2)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

void BM_EncodeLlama2c(benchmark::State& state) {
  const std::string text = eval_text();
  const auto t = Llama2cTokenizer::load(kModels / "llama2-tokenizer/tokenizer.bin", 32000);
  for (auto _ : state) benchmark::DoNotOptimize(t->encode(text, true));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_EncodeLlama2c)->Unit(benchmark::kMicrosecond);

void BM_EncodeSentencePiece(benchmark::State& state) {
  const std::string text = eval_text();
  const auto t = SentencePieceTokenizer::load(kModels / "llama2-tokenizer/tokenizer.model");
  for (auto _ : state) benchmark::DoNotOptimize(t->encode(text, true));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_EncodeSentencePiece)->Unit(benchmark::kMicrosecond);

}  // namespace
