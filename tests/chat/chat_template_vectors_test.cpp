// The built-in chat templates (the real templates of Llama 3, Llama 3.2,
// Llama 2, Mistral, Gemma, Qwen 2.5, ChatML, TinyLlama) and engine snippets
// rendered by fhellm::chat, compared with what Python's jinja2 renders in
// transformers' environment (data/chat_template_vectors.json, made by
// make_chat_template_vectors.py).
#include <gtest/gtest.h>

#include <ctime>
#include <fstream>

#include "chat/chat_template.h"
#include "fhellm/error.h"

namespace fhellm::chat {
namespace {

using json = nlohmann::ordered_json;
const std::string kData = FHELLM_SOURCE_DIR "/tests/chat/data/";

json load(const std::string& file) {
  std::ifstream in(kData + file);
  EXPECT_TRUE(in.good()) << file;
  return json::parse(in);
}

// strftime_now on the generator's fixed date, 2024-09-01 12:00.
std::string fixed_clock(const std::string& format) {
  std::tm t{};
  t.tm_year = 2024 - 1900;
  t.tm_mon = 8;
  t.tm_mday = 1;
  t.tm_hour = 12;
  t.tm_wday = 0;
  t.tm_yday = 244;
  char buf[128];
  return std::string(buf, std::strftime(buf, sizeof buf, format.c_str(), &t));
}

SpecialTokens tokens_of(const json& j) {
  return {j.value("bos_token", ""), j.value("eos_token", ""), j.value("unk_token", ""), j.value("pad_token", "")};
}

// Checks one outcome: the text, the template's raise_exception message, or an error.
template <typename Render>
void check(const json& c, const std::string& what, Render render) {
  if (c.contains("expected")) {
    std::string got;
    ASSERT_NO_THROW(got = render()) << what;
    EXPECT_EQ(got, c["expected"].get<std::string>()) << what;
  } else if (c.contains("raises")) {
    try {
      render();
      ADD_FAILURE() << what << ": no error, expected raise_exception(" << c["raises"] << ")";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::chat_template_exception) << what << ": " << e.what();
      EXPECT_NE(std::string(e.what()).find(c["raises"].get<std::string>()), std::string::npos) << e.what();
    }
  } else {
    try {
      render();
      ADD_FAILURE() << what << ": no error, jinja2 failed with " << c["error"];
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::bad_chat_template) << what << ": " << e.what();
    }
  }
}

TEST(ChatTemplateVectors, BuiltinTemplatesRenderAsTransformers) {
  const json vectors = load("chat_template_vectors.json");
  const json conversations = load("conversations.json");
  const json special = load("special_tokens.json");
  std::size_t checked = 0;
  for (const json& c : vectors["templates"]) {
    const std::string name = c["template"], conv = c["conversation"];
    ChatTemplate t = ChatTemplate::builtin(name, tokens_of(special[name]));
    t.set_clock(fixed_clock);
    const json& conversation = conversations[conv];
    const json extra = conversation.value("variables", json::object());
    check(c, name + " / " + conv + (c["add_generation_prompt"].get<bool>() ? " +gen" : ""),
          [&] { return t.apply(conversation["messages"], c["add_generation_prompt"].get<bool>(), extra); });
    ++checked;
  }
  EXPECT_EQ(checked, 216u);  // 9 templates x 12 conversations x 2
}

TEST(ChatTemplateVectors, EngineSnippetsRenderAsJinja2) {
  const json vectors = load("chat_template_vectors.json");
  RenderOptions options;
  options.strftime_now = fixed_clock;
  for (const json& c : vectors["snippets"]) {
    const std::string source = c["source"];
    check(c, source, [&] { return JinjaTemplate(source).render(vectors["snippet_variables"], options); });
  }
}

TEST(ChatTemplateVectors, EveryTemplateFileIsBuiltIn) {
  const json special = load("special_tokens.json");
  for (const std::string& name : ChatTemplate::builtin_names()) {
    std::ifstream in(FHELLM_SOURCE_DIR "/src/chat/templates/" + name + ".jinja", std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(ChatTemplate::builtin_source(name), text) << name;
    EXPECT_TRUE(special.contains(name)) << name << " has no special tokens in the test data";
  }
  EXPECT_EQ(ChatTemplate::builtin_names().size(), 9u);
}

}  // namespace
}  // namespace fhellm::chat
