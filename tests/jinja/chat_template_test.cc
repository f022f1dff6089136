// tests/jinja/chat_template_test.cc - the chat template API against the shared golden renders
// (Python jinja2 as HF configures it) and the model-directory loading rules.
#include "jinja/chat_template.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace lfm2 {
namespace {

namespace fs = std::filesystem;

std::string SharedDir() {
  const char* dir = std::getenv("LFM2_SHARED_DIR");
  return dir != nullptr ? dir : "/work/shared";
}

std::time_t Year2000() {
  std::tm date{};
  date.tm_year = 100;
  date.tm_mon = 0;
  date.tm_mday = 1;
  date.tm_hour = 12;
  date.tm_isdst = -1;
  return std::mktime(&date);
}

std::vector<Json> GoldenCases() {
  std::vector<Json> cases;
  std::ifstream in(SharedDir() + "/golden/chat/cases.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    StatusOr<Json> parsed = ParseJson(line, "cases.jsonl");
    if (parsed.ok()) cases.push_back(std::move(parsed).value());
  }
  return cases;
}

TEST(ChatTemplateGolden, AllPublicCasesRenderByteIdentically) {
  const std::vector<Json> cases = GoldenCases();
  ASSERT_EQ(cases.size(), 47u) << "missing " << SharedDir() << "/golden/chat/cases.jsonl";
  jinja::RenderOptions options;
  options.now = Year2000();  // the README's date rule: strftime cases were rendered on 2000-01-01
  int passed = 0;
  for (const Json& c : cases) {
    const std::string id = c["id"].get<std::string>();
    StatusOr<std::string> source =
        ReadFileToString(SharedDir() + "/golden/chat/templates/" + c["template"].get<std::string>());
    ASSERT_TRUE(source.ok()) << source.status().message();
    ChatSpecialTokens tokens;
    tokens.bos_token = c["bos_token"].get<std::string>();
    tokens.eos_token = c["eos_token"].get<std::string>();
    tokens.pad_token = c["pad_token"].get<std::string>();
    StatusOr<ChatTemplate> chat = ChatTemplate::FromSource(*source, "chat_template.jinja", tokens);
    ASSERT_TRUE(chat.ok()) << id << ": " << chat.status().message();
    StatusOr<std::string> rendered =
        chat->Render(c["messages"], c["tools"], c["add_generation_prompt"].get<bool>(),
                     Json::object(), options);
    ASSERT_TRUE(rendered.ok()) << id << ": " << rendered.status().message();
    EXPECT_EQ(*rendered, c["rendered"].get<std::string>()) << id << " (" << c["template"] << ")";
    if (*rendered == c["rendered"].get<std::string>()) ++passed;
  }
  EXPECT_EQ(passed, 47);
}

class TempModelDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("lfm2_chat_template_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  fs::path dir_;
};

TEST_F(TempModelDir, PrefersChatTemplateJinjaOverConfigKey) {
  Write("tokenizer_config.json",
        R"({"bos_token": "<s>", "eos_token": {"content": "</s>", "lstrip": false},
            "chat_template": "CONFIG"})");
  Write("chat_template.jinja", "{{ bos_token }}FILE{{ eos_token }}\n");
  StatusOr<ChatTemplate> chat = ChatTemplate::Load(dir_.string());
  ASSERT_TRUE(chat.ok()) << chat.status().message();
  StatusOr<std::string> out = chat->Render(Json::array(), nullptr, true);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(*out, "<s>FILE</s>");  // keep_trailing_newline=False drops the final "\n"
}

TEST_F(TempModelDir, FallsBackToConfigStringAndListForms) {
  Write("tokenizer_config.json", R"({"chat_template": "{{ messages | length }}{{ pad_token }}"})");
  StatusOr<ChatTemplate> chat = ChatTemplate::Load(dir_.string());
  ASSERT_TRUE(chat.ok()) << chat.status().message();
  EXPECT_EQ(*chat->Render(Json::parse(R"([{"role": "user", "content": "x"}])"), nullptr, false),
            "1");  // no pad_token in the config: undefined, prints nothing
  Write("tokenizer_config.json",
        R"({"chat_template": [{"name": "tool_use", "template": "T"},
                              {"name": "default", "template": "D{{ tools }}"}]})");
  chat = ChatTemplate::Load(dir_.string());
  ASSERT_TRUE(chat.ok()) << chat.status().message();
  EXPECT_EQ(*chat->Render(Json::array(), nullptr, false), "DNone");
  Write("tokenizer_config.json", R"({"chat_template": [{"name": "tool_use", "template": "T"}]})");
  EXPECT_FALSE(ChatTemplate::Load(dir_.string()).ok());
}

TEST_F(TempModelDir, MissingTemplateAndDirectoryAreErrors) {
  Write("tokenizer_config.json", R"({"bos_token": "<s>"})");
  StatusOr<ChatTemplate> chat = ChatTemplate::Load(dir_.string());
  ASSERT_FALSE(chat.ok());
  EXPECT_NE(chat.status().message().find("no chat template"), std::string::npos);
  EXPECT_FALSE(ChatTemplate::Load((dir_ / "nope").string()).ok());
}

TEST_F(TempModelDir, SyntaxErrorsNameFileLineAndColumn) {
  Write("chat_template.jinja", "{% if x %}\n  {% for m in messages %}\n{% endif %}");
  StatusOr<ChatTemplate> chat = ChatTemplate::Load(dir_.string());
  ASSERT_FALSE(chat.ok());
  EXPECT_NE(chat.status().message().find("chat_template.jinja:3:4: expected 'endfor', got 'endif'"),
            std::string::npos)
      << chat.status().message();
}

TEST(ChatTemplateRender, RaiseExceptionAndExtraVariables) {
  StatusOr<ChatTemplate> chat = ChatTemplate::FromSource(
      "{% if messages[0].role != 'user' %}{{ raise_exception('first must be user') }}{% endif %}"
      "{{ enable_thinking }}",
      "t.jinja", {});
  ASSERT_TRUE(chat.ok());
  StatusOr<std::string> out =
      chat->Render(Json::parse(R"([{"role": "system", "content": "x"}])"), nullptr, true);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("first must be user"), std::string::npos);
  EXPECT_NE(out.status().message().find("t.jinja:1:"), std::string::npos);
  out = chat->Render(Json::parse(R"([{"role": "user", "content": "x"}])"), nullptr, true,
                     Json::parse(R"({"enable_thinking": false})"));
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ(*out, "False");
}

TEST(ChatTemplateRender, RejectsNonArrayMessages) {
  StatusOr<ChatTemplate> chat = ChatTemplate::FromSource("x", "t.jinja", {});
  ASSERT_TRUE(chat.ok());
  EXPECT_FALSE(chat->Render(Json::object(), nullptr, true).ok());
  EXPECT_FALSE(chat->Render(Json::array(), Json::object(), true).ok());
}

}  // namespace
}  // namespace lfm2
