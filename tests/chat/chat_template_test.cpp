// ChatTemplate loading (tokenizer_config.json forms, --chat-template NAME|FILE)
// and the Jinja engine's bounds on hostile templates.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "chat/chat_template.h"
#include "fhellm/error.h"

namespace fhellm::chat {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

class ChatTemplateFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("fhellm-chat-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
    return (dir_ / name).string();
  }
  fs::path dir_;
};

const json kHello = json::array({{{"role", "user"}, {"content", "Hello"}}});

TEST_F(ChatTemplateFiles, TokenizerConfigWithAStringTemplateAndAddedTokens) {
  const json config = {{"bos_token", {{"content", "<s>"}, {"lstrip", false}}},
                       {"eos_token", "</s>"},
                       {"chat_template", "{{ bos_token }}{% for m in messages %}[{{ m.content }}]{{ eos_token }}{% endfor %}"}};
  const auto t = ChatTemplate::from_tokenizer_config(write("tokenizer_config.json", config.dump()));
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->special_tokens().bos_token, "<s>");
  EXPECT_EQ(t->apply(kHello, false), "<s>[Hello]</s>");
}

TEST_F(ChatTemplateFiles, TokenizerConfigWithNamedTemplatesUsesDefault) {
  const json config = {{"chat_template", json::array({{{"name", "tool_use"}, {"template", "tools"}},
                                                      {{"name", "default"}, {"template", "default"}}})}};
  EXPECT_EQ(ChatTemplate::from_tokenizer_config(write("a.json", config.dump()))->apply(kHello, true), "default");
  const json no_default = {{"chat_template", json::array({{{"name", "x"}, {"template", "x"}}})}};
  try {
    ChatTemplate::from_tokenizer_config(write("b.json", no_default.dump()));
    FAIL() << "a list without default was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::bad_tokenizer_file);
  }
  EXPECT_FALSE(ChatTemplate::from_tokenizer_config(write("c.json", "{\"eos_token\": \"x\"}")).has_value());
}

TEST_F(ChatTemplateFiles, ResolveTakesANameAJinjaFileOrAConfig) {
  const SpecialTokens tokens{"<s>", "</s>", "", ""};
  EXPECT_EQ(ChatTemplate::resolve("llama2", tokens).apply(kHello, false), "<s>[INST] Hello [/INST]");
  EXPECT_EQ(ChatTemplate::resolve(write("t.jinja", "{{ messages[0].content|upper }}\n"), tokens).apply(kHello, false),
            "HELLO");
  const json config = {{"chat_template", "{{ eos_token }}"}, {"eos_token", "<end>"}};
  EXPECT_EQ(ChatTemplate::resolve(write("tokenizer_config.json", config.dump()), tokens).apply(kHello, false), "<end>");
  try {
    ChatTemplate::resolve("no-such-template", tokens);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("llama3"), std::string::npos) << "the message lists the built-in names";
  }
  try {
    ChatTemplate::resolve(write("bad.json", "{not json"), tokens);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::bad_tokenizer_file);
  }
}

TEST(ChatTemplate, RefusedConversationsAndBadMessagesAreErrors) {
  const auto gemma = ChatTemplate::builtin("gemma", {"<bos>", "<eos>", "", ""});
  const json system = json::array({{{"role", "system"}, {"content", "x"}}});
  try {
    gemma.apply(system, true);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::chat_template_exception);
    EXPECT_NE(std::string(e.what()).find("System role not supported"), std::string::npos) << e.what();
  }
  EXPECT_THROW(gemma.apply(json::object(), true), Error);
}

// Hostile templates end in an error, not a crash, a hang or unbounded memory.
TEST(JinjaTemplate, HostileTemplatesAreBounded) {
  const json vars = json::object();
  RenderOptions small;
  small.max_output_bytes = 1 << 20;  // the same bound as the default 16 MB, reached sooner
  auto code_of = [&](const std::string& source) {
    try {
      JinjaTemplate(source).render(vars, small);
    } catch (const Error& e) {
      return e.code();
    }
    return ErrorCode::internal_error;
  };
  EXPECT_EQ(code_of("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}"), ErrorCode::bad_chat_template);
  std::string nested;
  for (int i = 0; i < 500; ++i) nested += "{% if true %}";
  EXPECT_EQ(code_of(nested), ErrorCode::bad_chat_template);
  EXPECT_EQ(code_of("{% for i in range(1000000) %}{% endfor %}"), ErrorCode::bad_chat_template);
  EXPECT_EQ(code_of("{{ 'x' * 100000000 }}"), ErrorCode::bad_chat_template);
  EXPECT_EQ(code_of("{% for i in range(100000) %}{% for j in range(100000) %}xxxxxxxxxx{% endfor %}{% endfor %}"),
            ErrorCode::bad_chat_template);
  EXPECT_EQ(code_of("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}"), ErrorCode::bad_chat_template);
  EXPECT_EQ(code_of("{{ '\\x4' }}"), ErrorCode::bad_chat_template);
  EXPECT_EQ(code_of("{# never closed"), ErrorCode::bad_chat_template);
  EXPECT_EQ(code_of("{{ 99999999999999999999999 }}"), ErrorCode::bad_chat_template);
}

TEST(JinjaTemplate, ErrorsNameTheLine) {
  try {
    JinjaTemplate("line one\n{{ 1 }}\n{{ missing.attribute }}").render(json::object());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("line 3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'missing' is undefined"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace fhellm::chat
