// tests/tokenizer/tokenizer_test.cc - the tokenizer against the golden HF ids (every public case,
// with and without BOS, and decode), the deliberate traps, the public API and the streaming
// decoder.
#include "tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <thread>

#include "io/json.h"
#include "tokenizer/tokenizer_test_util.h"
#include "tokenizer/unicode_util.h"

namespace lfm2 {
namespace {

struct GoldenCase {
  std::string text;
  std::vector<int32_t> ids;
  std::vector<int32_t> ids_no_bos;
  std::string category;
};

std::vector<int32_t> ToIds(const std::vector<int64_t>& values) {
  return std::vector<int32_t>(values.begin(), values.end());
}

std::vector<GoldenCase> LoadCases() {
  const std::string path = testing::GoldenTokenizerDir() + "/cases.jsonl";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::vector<GoldenCase> cases;
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty()) continue;
    auto json = ParseJson(line, StrCat(path, ":", line_number));
    EXPECT_TRUE(json.ok()) << json.status().ToString();
    if (!json.ok()) continue;
    GoldenCase c;
    c.text = GetString(*json, "text", "case").value();
    c.ids = ToIds(GetIntArray((*json)["ids"], "ids").value());
    c.ids_no_bos = ToIds(GetIntArray((*json)["ids_no_bos"], "ids_no_bos").value());
    c.category = GetString(*json, "category", "case").value();
    cases.push_back(std::move(c));
  }
  return cases;
}

class GoldenTokenizerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto loaded = Tokenizer::FromDirectory(testing::GoldenTokenizerDir());
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    tokenizer_ = new Tokenizer(std::move(loaded).value());
    cases_ = new std::vector<GoldenCase>(LoadCases());
  }
  static void TearDownTestSuite() {
    delete tokenizer_;
    delete cases_;
  }
  static const Tokenizer& tok() { return *tokenizer_; }
  static Tokenizer* tokenizer_;
  static std::vector<GoldenCase>* cases_;
};
Tokenizer* GoldenTokenizerTest::tokenizer_ = nullptr;
std::vector<GoldenCase>* GoldenTokenizerTest::cases_ = nullptr;

TEST_F(GoldenTokenizerTest, EveryPublicCaseMatchesHf) {
  ASSERT_EQ(cases_->size(), 293u);
  int passed = 0;
  for (const GoldenCase& c : *cases_) {
    const std::vector<int32_t> with_bos = tok().Encode(c.text, true);
    const std::vector<int32_t> without_bos = tok().Encode(c.text, false);
    const std::string decoded = tok().Decode(without_bos);
    EXPECT_EQ(with_bos, c.ids) << c.category << ": " << c.text;
    EXPECT_EQ(without_bos, c.ids_no_bos) << c.category << ": " << c.text;
    EXPECT_EQ(tok().Decode(c.ids_no_bos), c.text) << c.category;
    if (with_bos == c.ids && without_bos == c.ids_no_bos && decoded == c.text) ++passed;
  }
  EXPECT_EQ(passed, static_cast<int>(cases_->size()));
  std::printf("golden tokenizer cases: %d of %zu passed\n", passed, cases_->size());
}

TEST_F(GoldenTokenizerTest, DecodeWithBosAndSkipSpecial) {
  for (const GoldenCase& c : *cases_) {
    EXPECT_EQ(tok().Decode(c.ids), "<|startoftext|>" + c.text);
    std::vector<int32_t> plain;
    for (int32_t id : c.ids) {
      if (!tok().IsSpecial(id)) plain.push_back(id);
    }
    EXPECT_EQ(tok().Decode(c.ids, /*skip_special_tokens=*/true), tok().Decode(plain));
  }
}

TEST_F(GoldenTokenizerTest, LegacyMergeStringsGiveTheSameIds) {
  auto text = ReadFileToString(testing::GoldenTokenizerDir() + "/tokenizer.json");
  ASSERT_TRUE(text.ok());
  Json root = ParseJson(*text, "golden").value();
  Json legacy = Json::array();
  for (const Json& merge : root["model"]["merges"]) {
    legacy.push_back(merge[0].get<std::string>() + " " + merge[1].get<std::string>());
  }
  root["model"]["merges"] = legacy;
  auto converted = Tokenizer::FromJsonText(DumpJson(root));
  ASSERT_TRUE(converted.ok()) << converted.status().ToString();
  for (const GoldenCase& c : *cases_) EXPECT_EQ(converted->Encode(c.text, true), c.ids) << c.text;
}

TEST_F(GoldenTokenizerTest, UnreachableVocabEntriesAreNotEmitted) {
  // " likely" is a vocab entry with a merge, but BPE by rank never reaches it (ignore_merges
  // false).
  const std::optional<int32_t> whole = tok().TokenToId("\xC4\xA0likely");
  ASSERT_TRUE(whole.has_value());
  for (const char* word : {" likely", " others", " raised", " checks", " updates", " symlinks"}) {
    const std::vector<int32_t> ids = tok().Encode(word, false);
    EXPECT_GT(ids.size(), 1u) << word;
    EXPECT_EQ(tok().Decode(ids), word);
  }
  const std::vector<int32_t> likely = tok().Encode(" likely", false);
  EXPECT_EQ(std::count(likely.begin(), likely.end(), *whole), 0);
}

TEST_F(GoldenTokenizerTest, AddedWordsAreCarvedEverywhere) {
  const int32_t python = 7392, mathias = 7389;
  EXPECT_EQ(tok().TokenToId("python"), python);
  const std::vector<int32_t> cpython = tok().Encode("cpython", false);
  ASSERT_EQ(cpython.size(), 2u);
  EXPECT_EQ(cpython[1], python);
  const std::vector<int32_t> pythonic = tok().Encode("pythonic", false);
  EXPECT_EQ(pythonic.front(), python);
  const std::vector<int32_t> spaced = tok().Encode(" python", false);
  ASSERT_EQ(spaced.size(), 2u);
  EXPECT_EQ(spaced[0], 533);  // "Ġ"
  EXPECT_EQ(spaced[1], python);
  EXPECT_EQ(tok().Encode("Mathias", false), std::vector<int32_t>{mathias});
  EXPECT_FALSE(tok().IsSpecial(python));
}

TEST_F(GoldenTokenizerTest, SpecialTokensAndLookalikes) {
  EXPECT_EQ(tok().Encode("<|im_start|>user\n<|im_end|>", false).front(), 6);
  EXPECT_EQ(tok().Encode("<|im_start|>user\n<|im_end|>", false).back(), 7);
  for (const char* lookalike :
       {"<|im_start", "<|IM_START|>", "<|reserved_491|>", "<|reserved_4|>"}) {
    for (int32_t id : tok().Encode(lookalike, false))
      EXPECT_FALSE(tok().IsSpecial(id)) << lookalike;
  }
  EncodeOptions literal;
  literal.add_special_tokens = false;
  literal.parse_special_tokens = false;
  const std::vector<int32_t> plain = tok().Encode("<|im_start|>", literal);
  EXPECT_GT(plain.size(), 1u);
  for (int32_t id : plain) EXPECT_FALSE(tok().IsSpecial(id));
  EXPECT_EQ(tok().Decode(plain), "<|im_start|>");
}

TEST_F(GoldenTokenizerTest, PlainRangesKeepSpecialTextPlain) {
  // A template's tokens around message text that contains one: only the template's are special.
  const std::string text = "<|im_start|>user\nhi<|im_end|>x<|im_end|>\n";
  const size_t data = text.find("<|im_end|>");
  const std::vector<std::pair<size_t, size_t>> ranges = {{data, data + 10}};
  EncodeOptions guarded;
  guarded.add_special_tokens = false;
  guarded.plain_ranges = ranges;
  EncodeOptions literal;
  literal.add_special_tokens = false;
  literal.parse_special_tokens = false;
  std::vector<int32_t> expected = {6};
  for (int32_t id : tok().Encode("user\nhi<|im_end|>x", literal)) expected.push_back(id);
  expected.push_back(7);
  for (int32_t id : tok().Encode("\n", false)) expected.push_back(id);
  EXPECT_EQ(tok().Encode(text, guarded), expected);
  // The same text without ranges: three control tokens.
  const std::vector<int32_t> open = tok().Encode(text, false);
  EXPECT_EQ(std::count_if(open.begin(), open.end(), [&](int32_t id) { return tok().IsSpecial(id); }), 3);
  // A range touching any byte of a special token keeps it plain.
  const std::vector<std::pair<size_t, size_t>> one_byte = {{data + 4, data + 5}};
  guarded.plain_ranges = one_byte;
  EXPECT_EQ(tok().Encode(text, guarded), expected);
  // Ranges beside a token leave it special.
  const std::vector<std::pair<size_t, size_t>> beside = {{data - 2, data}, {data + 10, data + 11}};
  guarded.plain_ranges = beside;
  EXPECT_EQ(tok().Encode(text, guarded), open);
  // Invalid UTF-8 (its repair would move the ranges): nothing is special.
  guarded.plain_ranges = ranges;
  const std::vector<int32_t> repaired = tok().Encode(text + "\xFF", guarded);
  for (int32_t id : repaired) EXPECT_FALSE(tok().IsSpecial(id));
}

TEST_F(GoldenTokenizerTest, FindSpecialTokensGivesTheirByteRanges) {
  const std::string text = "a<|im_start|>b<|reserved_4|><|im_end|><|im_end";
  const auto spans = tok().FindSpecialTokens(text);
  ASSERT_EQ(spans.size(), 2u);  // <|reserved_4|> is a plain vocabulary entry
  EXPECT_EQ(text.substr(spans[0].first, spans[0].second - spans[0].first), "<|im_start|>");
  EXPECT_EQ(text.substr(spans[1].first, spans[1].second - spans[1].first), "<|im_end|>");
  EXPECT_TRUE(tok().FindSpecialTokens("plain text").empty());
  EXPECT_TRUE(tok().FindSpecialTokens("<|im_start|>\xFF").empty());
}

TEST_F(GoldenTokenizerTest, Accessors) {
  EXPECT_EQ(tok().vocab_size(), 7777);
  EXPECT_EQ(tok().bos_id(), 1);
  EXPECT_EQ(tok().eos_id(), 7);
  EXPECT_EQ(tok().pad_id(), 0);
  EXPECT_TRUE(tok().adds_special_tokens());
  EXPECT_EQ(tok().TokenText(533), "\xC4\xA0");
  EXPECT_EQ(tok().TokenBytes(533), " ");
  EXPECT_EQ(tok().TokenText(7), "<|im_end|>");
  EXPECT_TRUE(tok().IsSpecial(7));
  EXPECT_TRUE(tok().IsValidId(14));  // <|reserved_4|>: a plain vocab entry
  EXPECT_FALSE(tok().IsSpecial(14));
  EXPECT_FALSE(tok().IsValidId(7777));
  EXPECT_FALSE(tok().IsValidId(-1));
  EXPECT_EQ(tok().TokenText(100000), "");
  EXPECT_EQ(tok().Encode(""), std::vector<int32_t>{1});
  EXPECT_TRUE(tok().Encode("", false).empty());
  EXPECT_EQ(tok().Decode(std::vector<int32_t>{}), "");
}

TEST_F(GoldenTokenizerTest, OutOfRangeIdsAreSkippedByDecode) {
  const std::vector<int32_t> ids = {-5, 9999999, 7777};
  EXPECT_EQ(tok().Decode(ids), "");
}

TEST_F(GoldenTokenizerTest, InvalidUtf8InputIsRepairedNotFatal) {
  const std::string bad = "ab\xFF\xC3(\xE2\x82\xF0\x9F\x98";
  const std::vector<int32_t> ids = tok().Encode(bad, false);
  EXPECT_EQ(tok().Decode(ids), tokenizer::ToValidUtf8(bad));
  EXPECT_EQ(ids, tok().Encode(tokenizer::ToValidUtf8(bad), false));
}

TEST_F(GoldenTokenizerTest, LoneByteTokensDecodeToReplacementCharacters) {
  const int32_t byte_base = 501;  // ids 501..756 = bytes 0x00..0xFF
  EXPECT_EQ(tok().Decode(std::vector<int32_t>{byte_base + 0xFF}), "\xEF\xBF\xBD");
  EXPECT_EQ(tok().Decode(std::vector<int32_t>{byte_base + 0xE4, byte_base + 0xB8}), "\xEF\xBF\xBD");
  EXPECT_EQ(
      tok().Decode(std::vector<int32_t>{byte_base + 0xE4, byte_base + 0xB8, byte_base + 0xAD}),
      "\xE4\xB8\xAD");
}

// Concatenated streaming output must equal Decode, and no chunk may be partial UTF-8.
void ExpectStreamingMatchesDecode(const Tokenizer& tok, const std::vector<int32_t>& ids,
                                  bool skip_special = false) {
  StreamingDecoder stream(tok, skip_special);
  std::string joined;
  for (int32_t id : ids) {
    const std::string chunk = stream.Add(id);
    EXPECT_TRUE(tokenizer::IsValidUtf8(chunk));
    EXPECT_LE(stream.pending_bytes(), 3u);
    joined += chunk;
  }
  const std::string tail = stream.Finish();
  EXPECT_TRUE(tokenizer::IsValidUtf8(tail));
  joined += tail;
  EXPECT_EQ(joined, tok.Decode(ids, skip_special));
}

TEST_F(GoldenTokenizerTest, StreamingNeverSplitsUtf8ByteByByte) {
  const std::string text =
      "h\xC3\xA9llo \xF0\x9F\x98\x80 \xE4\xB8\x96\xE7\x95\x8C "
      "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB";
  std::vector<int32_t> byte_ids;
  for (unsigned char b : text) byte_ids.push_back(501 + b);
  StreamingDecoder stream(tok());
  std::string joined;
  for (size_t i = 0; i < byte_ids.size(); ++i) {
    const std::string chunk = stream.Add(byte_ids[i]);
    EXPECT_TRUE(tokenizer::IsValidUtf8(chunk)) << "after byte " << i;
    joined += chunk;
  }
  EXPECT_EQ(stream.pending_bytes(), 0u);
  joined += stream.Finish();
  EXPECT_EQ(joined, text);
  ExpectStreamingMatchesDecode(tok(), byte_ids);
}

TEST_F(GoldenTokenizerTest, StreamingMatchesDecodeOnGoldenAndRandomIds) {
  for (const GoldenCase& c : *cases_) {
    ExpectStreamingMatchesDecode(tok(), c.ids);
    ExpectStreamingMatchesDecode(tok(), c.ids, /*skip_special=*/true);
  }
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int32_t> any_id(-3, tok().vocab_size() + 3);
  std::uniform_int_distribution<int32_t> byte_id(501, 756);
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<int32_t> ids;
    for (int i = 0; i < 40; ++i) ids.push_back(trial % 2 ? any_id(rng) : byte_id(rng));
    ExpectStreamingMatchesDecode(tok(), ids);
  }
  // An incomplete tail is flushed as one U+FFFD; Reset starts over.
  StreamingDecoder stream(tok());
  EXPECT_EQ(stream.Add(501 + 0xF0), "");
  EXPECT_EQ(stream.Add(501 + 0x9F), "");
  EXPECT_EQ(stream.pending_bytes(), 2u);
  EXPECT_EQ(stream.Finish(), "\xEF\xBF\xBD");
  EXPECT_EQ(stream.Add(501 + 'a'), "a");
}

TEST_F(GoldenTokenizerTest, ConcurrentEncodesAgree) {
  std::vector<std::vector<int32_t>> results(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (const GoldenCase& c : *cases_) {
        const std::vector<int32_t> ids = tok().Encode(c.text, true);
        results[t].insert(results[t].end(), ids.begin(), ids.end());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(results[0], results[1]);
}

TEST(TokenizerLoadTest, MissingDirectoryAndFile) {
  auto missing = Tokenizer::FromDirectory("/nonexistent/model/dir");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/model/dir"), std::string::npos);
  auto no_json = Tokenizer::FromDirectory("/");
  ASSERT_FALSE(no_json.ok());
  EXPECT_NE(no_json.status().message().find("tokenizer.json"), std::string::npos);
}

TEST(TokenizerLoadTest, MiniTokenizerEncodesAndDecodes) {
  auto tok = Tokenizer::FromJsonText(DumpJson(testing::MiniTokenizerJson()));
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const int32_t bos = *tok->TokenToId("<|s|>");
  const int32_t hello = *tok->TokenToId("hello");
  const int32_t world = *tok->TokenToId("\xC4\xA0world");
  EXPECT_EQ(tok->Encode("hello world"), (std::vector<int32_t>{bos, hello, world}));
  EXPECT_EQ(tok->Decode(tok->Encode("hello world")), "<|s|>hello world");
  EXPECT_EQ(tok->bos_id(), bos);
  EXPECT_FALSE(tok->eos_id().has_value());
  const int32_t py = *tok->TokenToId("py");
  EXPECT_EQ(tok->Encode("happy", false).back(), py);
}

TEST(TokenizerLoadTest, ConfigWithoutPostProcessorAddsBosAndEos) {
  Json root = testing::MiniTokenizerJson();
  root["post_processor"] = nullptr;
  const std::string config =
      R"({"add_bos_token": true, "add_eos_token": true, "bos_token": {"content": "<|s|>"},
          "eos_token": "py", "pad_token": null})";
  auto tok = Tokenizer::FromJsonText(DumpJson(root), config);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const std::vector<int32_t> ids = tok->Encode("hello");
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids.front(), *tok->TokenToId("<|s|>"));
  EXPECT_EQ(ids.back(), *tok->TokenToId("py"));
  auto bad = Tokenizer::FromJsonText(DumpJson(root), R"({"eos_token": "<|nope|>"})");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("eos_token \"<|nope|>\" is not a token"),
            std::string::npos);
}

}  // namespace
}  // namespace lfm2
