// Tokenizer files: tokenizer.json (byte-level and metaspace BPE),
// llama2.c tokenizer.bin, SentencePiece .model. The first input byte picks
// the format; a loaded tokenizer then encodes and decodes a fixed text and
// the input's own bytes.
#include "tokenizer/tokenizer.h"
#include "fuzz/fuzz_util.h"

using namespace fhellm;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static const char* names[] = {"tokenizer.json", "tokenizer.bin", "tokenizer.model"};
  const auto path = fuzz::write_input(data + 1, size - 1, names[data[0] % 3]);
  fuzz::expect_only_fhellm_errors([&] {
    const auto tok = tokenizer::load_tokenizer(path, data[0] % 3 == 1 ? 512 : 0);
    const std::string text(reinterpret_cast<const char*>(data + 1), std::min<std::size_t>(size - 1, 64));
    for (const std::string& t : {std::string("Once upon a time, 42 caf\xC3\xA9s!"), text}) {
      const auto ids = tok->encode(t, true);
      tok->decode(ids);
    }
  });
  return 0;
}
