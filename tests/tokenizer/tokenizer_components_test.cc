// tests/tokenizer/tokenizer_components_test.cc - the tokenizer's parts on their own: the
// Oniguruma -> PCRE2 regex translation (with the Unicode details HF's regex has), Split
// behaviours (HF's own split.rs cases), added-token flags (HF's added_vocabulary.rs cases), UTF-8
// repair, and refusal of malformed or unsupported tokenizer.json files with named errors.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io/json.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_test_util.h"
#include "tokenizer/unicode_regex.h"
#include "tokenizer/unicode_util.h"

namespace lfm2::tokenizer {
namespace {

std::vector<std::string> Pieces(const Regex& regex, std::string_view text,
                                SplitBehavior behavior = SplitBehavior::kIsolated,
                                bool invert = false) {
  std::vector<std::string> out;
  for (const auto& [start, end] : SplitByRegex(regex, text, behavior, invert)) {
    out.emplace_back(text.substr(start, end - start));
  }
  return out;
}

Regex Compile(std::string_view pattern) {
  auto regex = Regex::FromOniguruma(pattern);
  EXPECT_TRUE(regex.ok()) << regex.status().ToString();
  return std::move(regex).value();
}

bool FullMatch(const Regex& regex, std::string_view text) {
  std::vector<Regex::Match> matches;
  regex.FindAll(text, &matches);
  return !matches.empty() && matches[0].start == 0 && matches[0].end == text.size();
}

TEST(RegexTest, WhiteSpaceIsUnicodeWhiteSpace) {
  const Regex space = Compile("\\s");
  for (const char* yes : {" ", "\t", "\n", "\v", "\f", "\r", "\xC2\x85", "\xC2\xA0", "\xE1\x9A\x80",
                          "\xE2\x80\x80", "\xE2\x80\x8A", "\xE2\x80\xA8", "\xE2\x80\xA9",
                          "\xE2\x80\xAF", "\xE2\x81\x9F", "\xE3\x80\x80"}) {
    EXPECT_TRUE(FullMatch(space, yes)) << yes;
  }
  // U+180E (PCRE2's \s has it), U+200B, U+001C..U+001F (Python's isspace has them): not \s.
  for (const char* no : {"\xE1\xA0\x8E", "\xE2\x80\x8B", "\x1C", "\x1F", "a"}) {
    EXPECT_FALSE(FullMatch(space, no)) << no;
  }
}

TEST(RegexTest, LettersNumbersAndMarks) {
  const Regex letter = Compile("\\p{L}");
  const Regex number = Compile("\\p{N}");
  EXPECT_TRUE(FullMatch(letter, "\xE4\xB8\xAD"));   // CJK (Lo)
  EXPECT_TRUE(FullMatch(letter, "\xCA\xB0"));       // modifier letter (Lm)
  EXPECT_TRUE(FullMatch(letter, "\xE0\xB8\x81"));   // Thai letter
  EXPECT_FALSE(FullMatch(letter, "\xCC\x81"));      // U+0301 combining acute (Mn)
  EXPECT_FALSE(FullMatch(letter, "\xE0\xA4\xBF"));  // Devanagari vowel sign I (Mc)
  EXPECT_FALSE(FullMatch(letter, "\xE0\xB8\xB1"));  // Thai vowel sign (Mn)
  for (const char* n : {"7", "\xC2\xBD", "\xE2\x85\xAB", "\xE2\x91\xA0", "\xC2\xB2", "\xD9\xA0"}) {
    EXPECT_TRUE(FullMatch(number, n)) << n;  // Nd, No (½ ① ²), Nl (Ⅻ)
  }
  const Regex other = Compile("[^\\s\\p{L}\\p{N}]+");
  EXPECT_TRUE(FullMatch(other, "\xCC\x81\xE0\xA4\xBF!"));
}

TEST(RegexTest, CaseInsensitiveContractionMatchesLongS) {
  const Regex contraction = Compile("(?i:'s|'t|'re|'ve|'m|'ll|'d)");
  for (const char* yes : {"'s", "'S", "'\xC5\xBF", "'LL", "'Re", "'D"}) {
    EXPECT_TRUE(FullMatch(contraction, yes)) << yes;
  }
  EXPECT_FALSE(FullMatch(contraction, "'x"));
}

TEST(RegexTest, Lfm2PatternSplitsLikeHf) {
  const Regex lfm2 = Compile(testing::kLfm2Pattern);
  EXPECT_EQ(Pieces(lfm2, "Hello world's  end\n\n"),
            (std::vector<std::string>{"Hello", " world", "'s", " ", " end", "\n\n"}));
  EXPECT_EQ(Pieces(lfm2, " 1234567"), (std::vector<std::string>{" ", "123", "456", "7"}));
  EXPECT_EQ(Pieces(lfm2, "a   b"), (std::vector<std::string>{"a", "  ", " b"}));  // \s+(?!\S)
  EXPECT_EQ(Pieces(lfm2, "'\xC5\xBFtop"), (std::vector<std::string>{"'\xC5\xBF", "top"}));
  EXPECT_EQ(Pieces(lfm2, "x  \n"), (std::vector<std::string>{"x", "  \n"}));
  EXPECT_EQ(Pieces(lfm2, "(\xCC\x81) !!\r\n"), (std::vector<std::string>{"(\xCC\x81)", " !!\r\n"}));
}

TEST(RegexTest, Gpt2PatternSplitsLikeHf) {
  // HF byte_level.rs pre_tokenization test (before the byte mapping).
  const Regex gpt2 =
      Compile("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+");
  EXPECT_EQ(Pieces(gpt2, "Hello my friend, how is your day going?"),
            (std::vector<std::string>{"Hello", " my", " friend", ",", " how", " is", " your",
                                      " day", " going", "?"}));
  EXPECT_EQ(Pieces(gpt2, "It's 2024!  ok"),
            (std::vector<std::string>{"It", "'s", " 2024", "!", " ", " ok"}));
}

TEST(RegexTest, TranslationOfOnigurumaSpecifics) {
  auto translate = [](std::string_view p) { return TranslateOnigurumaPattern(p).value(); };
  EXPECT_EQ(translate("a{,3}"), "a{0,3}");
  EXPECT_EQ(translate("a{2}?"), "(?:a{2})?");      // Ruby: not reluctant
  EXPECT_EQ(translate("a{1,2}+"), "(?:a{1,2})+");  // Ruby: not possessive
  EXPECT_EQ(translate("a*?b++"), "a*?b++");
  EXPECT_EQ(translate("x{"), "x\\x{7B}");  // a lone brace is a literal
  EXPECT_EQ(translate("(a)"), "(?:a)");
  EXPECT_EQ(translate("\\p{^L}\\P{Lu}\\p{Letter}"), "\\P{L}\\P{Lu}\\p{L}");
  EXPECT_EQ(translate("\\p{Han}"), "\\p{sc:Han}");  // Script, not Script_Extensions
  // \h is a hex digit, \v a vertical tab, . excludes only \n.
  const Regex hex = Compile("\\h+");
  EXPECT_TRUE(FullMatch(hex, "09afAF"));
  EXPECT_FALSE(FullMatch(hex, " "));
  EXPECT_TRUE(FullMatch(Compile("\\v"), "\x0B"));
  EXPECT_TRUE(FullMatch(Compile("."), "\r"));
  EXPECT_FALSE(FullMatch(Compile("."), "\n"));
  EXPECT_TRUE(FullMatch(Compile("(?m:.)"), "\n"));  // Ruby (?m) is dot-all
  EXPECT_TRUE(FullMatch(Compile("(?x) a b # comment\n c"), "abc"));
  // Oniguruma's \w: marks and Alphabetic symbols (Ⓐ) yes, ① no, ½ yes (Latin-1 table).
  const Regex word = Compile("\\w");
  EXPECT_TRUE(FullMatch(word, "\xCC\x81"));
  EXPECT_TRUE(FullMatch(word, "\xE2\x92\xB6"));
  EXPECT_FALSE(FullMatch(word, "\xE2\x91\xA0"));
  EXPECT_TRUE(FullMatch(word, "\xC2\xBD"));
  EXPECT_TRUE(FullMatch(word, "_"));
}

TEST(RegexTest, UnsupportedConstructsAreNamedErrors) {
  for (const char* pattern : {"(a)\\1", "\\k<x>", "[a&&b]", "[[a]]", "(?~a)", "(?(1)a)", "\\X",
                              "a(", "a)", "[a", "*a", "(?=a)*", "\\p{Alpha_nope}", "\\xFF"}) {
    auto regex = Regex::FromOniguruma(pattern);
    ASSERT_FALSE(regex.ok()) << pattern;
    EXPECT_NE(regex.status().message().find("regex /"), std::string::npos);
  }
}

TEST(RegexTest, EmptyMatchesFollowRustOnigIteration) {
  // rust-onig find_iter test: \d* on "a1bbb2" -> (0,0) (1,2) (3,3) (4,4) (5,6).
  const Regex digits = Compile("\\d*");
  std::vector<Regex::Match> matches;
  digits.FindAll("a1bbb2", &matches);
  std::vector<std::pair<size_t, size_t>> got;
  for (const Regex::Match& m : matches) got.emplace_back(m.start, m.end);
  EXPECT_EQ(got, (std::vector<std::pair<size_t, size_t>>{{0, 0}, {1, 2}, {3, 3}, {4, 4}, {5, 6}}));
}

TEST(SplitTest, BehavioursMatchHfSplitTests) {
  // HF pre_tokenizers/split.rs "basic": regex \w+|[^\w\s]+ with invert = true.
  const Regex regex = Compile("\\w+|[^\\w\\s]+");
  const std::string text = "How are you doing?";
  using V = std::vector<std::string>;
  EXPECT_EQ(Pieces(regex, text, SplitBehavior::kRemoved, true),
            (V{"How", "are", "you", "doing", "?"}));
  EXPECT_EQ(Pieces(regex, text, SplitBehavior::kIsolated, true),
            (V{"How", " ", "are", " ", "you", " ", "doing", "?"}));
  EXPECT_EQ(Pieces(regex, text, SplitBehavior::kMergedWithPrevious, true),
            (V{"How ", "are ", "you ", "doing", "?"}));
  EXPECT_EQ(Pieces(regex, text, SplitBehavior::kMergedWithNext, true),
            (V{"How", " are", " you", " doing", "?"}));
  EXPECT_EQ(Pieces(regex, text, SplitBehavior::kContiguous, true),
            (V{"How", " ", "are", " ", "you", " ", "doing?"}));
  // "invert" test: splitting on " " (Removed) == keeping "Hello" with invert.
  const Regex space = Regex::FromLiteral(" ").value();
  const Regex hello = Regex::FromLiteral("Hello").value();
  EXPECT_EQ(Pieces(space, "Hello Hello Hello", SplitBehavior::kRemoved),
            Pieces(hello, "Hello Hello Hello", SplitBehavior::kRemoved, true));
}

// HF added_vocabulary.rs tests (without their Lowercase normalizer).
class AddedTokenFlagsTest : public ::testing::Test {
 protected:
  AddedVocabulary Build(bool single_word, bool lstrip, bool rstrip) {
    Json root = testing::MiniTokenizerJson();
    model_ = std::make_unique<BpeModel>(BpeModel::FromJson(root["model"], "model").value());
    Json added = Json::array();
    added.push_back({{"id", 0},
                     {"content", "<mask>"},
                     {"single_word", single_word},
                     {"lstrip", lstrip},
                     {"rstrip", rstrip},
                     {"normalized", false},
                     {"special", false}});
    return AddedVocabulary::FromJson(&added, *model_, "added_tokens").value();
  }
  std::vector<std::pair<std::string, bool>> Split(const AddedVocabulary& vocab,
                                                  std::string_view text) {
    std::vector<AddedVocabulary::Piece> pieces;
    vocab.Split(text, true, &pieces);
    std::vector<std::pair<std::string, bool>> out;
    for (const auto& piece : pieces) out.emplace_back(std::string(piece.text), piece.id >= 0);
    return out;
  }
  std::unique_ptr<BpeModel> model_;
};

TEST_F(AddedTokenFlagsTest, SingleWord) {
  const AddedVocabulary vocab = Build(true, false, false);
  using V = std::vector<std::pair<std::string, bool>>;
  EXPECT_EQ(Split(vocab, "<mask> My name <mask> A<mask> <mask>ony <mask>"),
            (V{{"<mask>", true},
               {" My name ", false},
               {"<mask>", true},
               {" A<mask> <mask>ony ", false},
               {"<mask>", true}}));
  EXPECT_EQ(Split(vocab, "<mask>, <mask>- \xE2\x97\x8C\xCC\xB0<mask>"),
            (V{{"<mask>", true},
               {", ", false},
               {"<mask>", true},
               {"- \xE2\x97\x8C\xCC\xB0<mask>", false}}));
}

TEST_F(AddedTokenFlagsTest, LstripRstripUnicodeSpace) {
  const AddedVocabulary vocab = Build(true, true, true);
  using V = std::vector<std::pair<std::string, bool>>;
  EXPECT_EQ(Split(vocab, "Hi <mask> there\t<mask>\t<mask>\xE2\x80\x80"),
            (V{{"Hi", false},
               {" <mask> ", true},
               {"there", false},
               {"\t<mask>\t", true},
               {"<mask>\xE2\x80\x80", true}}));
}

TEST(AddedVocabularyTest, IdsComeFromTheVocabOrFollowIt) {
  Json root = testing::MiniTokenizerJson();
  const BpeModel model = BpeModel::FromJson(root["model"], "model").value();
  Json added = Json::array();
  added.push_back({{"id", 999}, {"content", "py"}, {"special", false}, {"normalized", true}});
  added.push_back({{"id", 5}, {"content", "<new>"}, {"special", true}, {"normalized", false}});
  const AddedVocabulary vocab = AddedVocabulary::FromJson(&added, model, "added_tokens").value();
  EXPECT_EQ(vocab.FindByContent("py"), model.TokenToId("py"));  // the vocab id wins
  EXPECT_EQ(vocab.FindByContent("<new>"), static_cast<int32_t>(model.entry_count()));  // next id
  EXPECT_TRUE(vocab.IsSpecialContent("<new>"));
}

TEST(Utf8Test, LossyRepairMatchesMaximalSubparts) {
  EXPECT_EQ(ToValidUtf8("a\xE2\x82"
                        "A"),
            "a\xEF\xBF\xBD"
            "A");
  EXPECT_EQ(ToValidUtf8("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate
  EXPECT_EQ(ToValidUtf8("\xC0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD");                  // overlong
  EXPECT_EQ(ToValidUtf8("\xF0\x9F\x98"), "\xEF\xBF\xBD");                          // truncated
  EXPECT_EQ(ToValidUtf8("\xF4\x90\x80\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  std::string out;
  EXPECT_EQ(AppendUtf8LossyPrefix("ok\xF0\x9F", &out), 2u);
  EXPECT_EQ(out, "ok");
  EXPECT_TRUE(IsValidUtf8("\xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xF0\x9F\x98"));
}

// Each malformed or unsupported file must give a Status whose message contains `expected`.
struct BadFile {
  const char* name;
  std::function<void(Json&)> mutate;
  const char* expected;
};

TEST(TokenizerErrorsTest, MalformedAndUnsupportedFilesAreRefused) {
  const std::vector<BadFile> cases = {
      {"wrong version", [](Json& j) { j["version"] = "2.0"; }, "unknown tokenizer version"},
      {"no model", [](Json& j) { j.erase("model"); }, "missing \"model\""},
      {"wordpiece", [](Json& j) { j["model"]["type"] = "WordPiece"; },
       "model: unsupported model type \"WordPiece\""},
      {"vocab not object", [](Json& j) { j["model"]["vocab"] = Json::array(); }, "model.vocab"},
      {"negative id", [](Json& j) { j["model"]["vocab"]["a"] = -1; }, "out of range"},
      {"float id", [](Json& j) { j["model"]["vocab"]["a"] = 1.5; }, "expected an integer id"},
      {"duplicate id", [](Json& j) { j["model"]["vocab"]["a"] = 98; }, "is used by both"},
      {"merge unknown token",
       [](Json& j) {
         j["model"]["merges"].push_back(Json::array({"zz", "q"}));
       },
       "model.merges[9]: token \"zz\" is not in the vocab"},
      {"merge result unknown",
       [](Json& j) {
         j["model"]["merges"].push_back(Json::array({"q", "q"}));
       },
       "merged token \"qq\" is not in the vocab"},
      {"merge bad shape", [](Json& j) { j["model"]["merges"][1] = Json::array({"a"}); },
       "merges[1]"},
      {"merge mixed formats", [](Json& j) { j["model"]["merges"][2] = "l l"; }, "merges[2]"},
      {"dropout", [](Json& j) { j["model"]["dropout"] = 0.1; }, "dropout"},
      {"unk missing", [](Json& j) { j["model"]["unk_token"] = "<unk>"; }, "unk_token"},
      {"normalizer",
       [](Json& j) {
         j["normalizer"] = {{"type", "NFC"}};
       },
       "normalizer: unsupported type \"NFC\""},
      {"metaspace",
       [](Json& j) {
         j["pre_tokenizer"]["pretokenizers"].push_back({{"type", "Metaspace"}});
       },
       "pre_tokenizer.pretokenizers[2]: unsupported type \"Metaspace\""},
      {"bad regex",
       [](Json& j) { j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(a"; },
       "pre_tokenizer.pretokenizers[0].pattern: regex /(a/"},
      {"bad behavior",
       [](Json& j) { j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Sideways"; },
       "unknown value \"Sideways\""},
      {"decoder",
       [](Json& j) {
         j["decoder"] = {{"type", "Sequence"}, {"decoders", Json::array({{{"type", "Fuse"}}})}};
       },
       "decoder.decoders[0]: unsupported type \"Fuse\""},
      {"post processor",
       [](Json& j) {
         j["post_processor"] = {{"type", "BertProcessing"}};
       },
       "post_processor: unsupported type \"BertProcessing\""},
      {"template unknown special",
       [](Json& j) { j["post_processor"]["single"][0]["SpecialToken"]["id"] = "<x>"; },
       "missing SpecialToken \"<x>\""},
      {"template bad id",
       [](Json& j) {
         j["post_processor"]["special_tokens"]["<|s|>"]["ids"] = Json::array({123456});
       },
       "special token id 123456 is not a token"},
      {"added not array", [](Json& j) { j["added_tokens"] = Json::object(); },
       "added_tokens: expected an array"},
      {"added no content", [](Json& j) { j["added_tokens"][0].erase("content"); },
       "added_tokens[0]"},
  };
  for (const BadFile& bad : cases) {
    Json root = testing::MiniTokenizerJson();
    bad.mutate(root);
    auto tok = Tokenizer::FromJsonText(DumpJson(root));
    ASSERT_FALSE(tok.ok()) << bad.name;
    EXPECT_NE(tok.status().message().find(bad.expected), std::string::npos)
        << bad.name << ": " << tok.status().message();
  }
  for (const char* text : {"", "{", "[]", "null", "{\"model\": 5}", "{\"a\":1,\"a\":2}"}) {
    EXPECT_FALSE(Tokenizer::FromJsonText(text).ok()) << text;
  }
}

TEST(TokenizerErrorsTest, OptionalComponentsMayBeAbsent) {
  Json root = testing::MiniTokenizerJson();
  root.erase("added_tokens");
  root.erase("post_processor");
  root.erase("normalizer");
  root["decoder"] = nullptr;  // HF joins token strings with spaces
  auto tok = Tokenizer::FromJsonText(DumpJson(root));
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const std::vector<int32_t> ids = tok->Encode("hello world");
  EXPECT_EQ(ids.size(), 2u);
  EXPECT_EQ(tok->Decode(ids), "hello \xC4\xA0world");
  EXPECT_FALSE(tok->adds_special_tokens());
}

}  // namespace
}  // namespace lfm2::tokenizer
