// A chat template (the Jinja text of a model's tokenizer_config.json, GGUF or
// .jinja file: chat::ChatTemplate), parsed and rendered for a short
// conversation: a hostile template gets bad_chat_template or
// chat_template_exception, never a crash, a hang or unbounded memory.
#include <nlohmann/json.hpp>

#include "chat/chat_template.h"
#include "fuzz/fuzz_util.h"

using namespace fhellm;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string source(reinterpret_cast<const char*>(data), size);
  static const nlohmann::ordered_json messages = nlohmann::ordered_json::parse(
      R"([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
          {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Once upon a time"}])");
  fuzz::expect_only_fhellm_errors([&] {
    chat::ChatTemplate t("fuzz", source, {"<s>", "</s>", "<unk>", ""});
    t.set_clock([](const std::string&) { return std::string("05 Dec 2026"); });
    t.apply(messages, true);
  });
  return 0;
}
