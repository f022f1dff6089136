// LFM2 tool calls: the Python-literal section parser (values, escapes, nesting, several calls),
// the JSON form, positional arguments, malformed sections, the whole-text splitter, and the
// streaming parser against the splitter for every way of cutting the text into pieces.
#include "generate/tool_calls.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "sampling/sampler.h"

namespace lfm2 {
namespace {

std::vector<ToolCall> MustParse(std::string_view text, const ToolCallParseOptions& options = {}) {
  auto calls = ParseToolCalls(text, options);
  EXPECT_TRUE(calls.ok()) << text << ": " << calls.status().ToString();
  return calls.ok() ? *calls : std::vector<ToolCall>();
}

Json Args(std::string_view text) {
  const auto calls = MustParse(text);
  return calls.size() == 1 ? calls[0].arguments : Json();
}

Json J(const char* text) { return Json::parse(text); }

TEST(ToolCallsTest, SingleCall) {
  const auto calls = MustParse(R"([get_candidate_status(candidate_id="12345")])");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].name, "get_candidate_status");
  EXPECT_EQ(calls[0].ArgumentsJson(), R"({"candidate_id":"12345"})");
}

TEST(ToolCallsTest, SeveralCallsDottedNamesAndNesting) {
  const auto calls = MustParse(
      "  [f(a=1), pkg.mod.g(b='x', c=[1, {\"k\": None}]),\n   h()]  ");
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].name, "f");
  EXPECT_EQ(calls[0].arguments, J(R"({"a":1})"));
  EXPECT_EQ(calls[1].name, "pkg.mod.g");
  EXPECT_EQ(calls[1].ArgumentsJson(), R"({"b":"x","c":[1,{"k":null}]})");
  EXPECT_EQ(calls[2].name, "h");
  EXPECT_EQ(calls[2].ArgumentsJson(), "{}");
  // Trailing commas, spaces around '=' and '.', a bare call without brackets.
  EXPECT_EQ(MustParse("[f(a = 1,),]")[0].arguments, J(R"({"a":1})"));
  EXPECT_EQ(MustParse("pkg . f(x=2)")[0].name, "pkg.f");
  EXPECT_EQ(MustParse("f(x=1), g(y=2)").size(), 2u);
  // Keyword order is kept.
  EXPECT_EQ(MustParse("[f(z=1, a=2, m=3)]")[0].ArgumentsJson(), R"({"z":1,"a":2,"m":3})");
}

TEST(ToolCallsTest, Literals) {
  EXPECT_EQ(Args("[f(a=True, b=False, c=None, d=true, e=false, g=null)]"),
            J(R"({"a":true,"b":false,"c":null,"d":true,"e":false,"g":null})"));
  EXPECT_EQ(Args("[f(a=0, b=-5, c=1_000, d=0x1F, e=0o17, f=0b101, g=+3, h=00)]"),
            J(R"({"a":0,"b":-5,"c":1000,"d":31,"e":15,"f":5,"g":3,"h":0})"));
  const Json big = Args("[f(a=18446744073709551615, b=-9223372036854775808, c=18446744073709551616)]");
  EXPECT_EQ(big["a"].get<uint64_t>(), 18446744073709551615ull);
  EXPECT_EQ(big["b"].get<int64_t>(), INT64_MIN);
  EXPECT_TRUE(big["c"].is_number_float());
  EXPECT_DOUBLE_EQ(big["c"].get<double>(), 18446744073709551616.0);
  const Json floats = Args("[f(a=1.5, b=-2e-3, c=.5, d=5., e=1E10, f=1_0.2_5, g=1e-400)]");
  EXPECT_DOUBLE_EQ(floats["a"].get<double>(), 1.5);
  EXPECT_DOUBLE_EQ(floats["b"].get<double>(), -0.002);
  EXPECT_DOUBLE_EQ(floats["c"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(floats["d"].get<double>(), 5.0);
  EXPECT_DOUBLE_EQ(floats["e"].get<double>(), 1e10);
  EXPECT_DOUBLE_EQ(floats["f"].get<double>(), 10.25);
  EXPECT_DOUBLE_EQ(floats["g"].get<double>(), 0.0);
  EXPECT_EQ(Args("[f(a=(1, 2), b=(1,), c=(), d=(3), e={1, 2}, f={}, g=[], h=[[[]]])]"),
            J(R"({"a":[1,2],"b":[1],"c":[],"d":3,"e":[1,2],"f":{},"g":[],"h":[[[]]]})"));
  EXPECT_EQ(Args("[f(d={1: 'a', None: 'b', True: 'c', 1.5: 'd', 2.0: 'e', 'k': 'f', 'k': 'g'})]"),
            J(R"({"d":{"1":"a","null":"b","true":"c","1.5":"d","2.0":"e","k":"g"}})"));
}

TEST(ToolCallsTest, Strings) {
  EXPECT_EQ(Args(R"([f(a='it\'s', b="say \"hi\"", c='tab\there', d='back\\slash', e='nl\n')])"),
            J(R"({"a":"it's","b":"say \"hi\"","c":"tab\there","d":"back\\slash","e":"nl\n"})"));
  EXPECT_EQ(Args(R"([f(a='\x41\101\u00e9\U0001F600', b='\ud83d\ude00', c='\ud83d', d='\ude00x')])"),
            J(R"({"a":"AAé😀","b":"😀","c":"\ufffd","d":"\ufffdx"})"));
  EXPECT_EQ(Args(R"([f(a='\d\w', b=r'\d\n\'', c=R"x\"y", d=u'ü', e='\a\b\f\v\0')])"),
            J(R"({"a":"\\d\\w","b":"\\d\\n\\'","c":"x\\\"y","d":"ü","e":"\u0007\b\f\u000b\u0000"})"));
  EXPECT_EQ(Args("[f(a='''multi\nline ' \"\"\" ''', b=\"\"\"x\"y\"\"\")]"),
            J(R"({"a":"multi\nline ' \"\"\" ","b":"x\"y"})"));
  EXPECT_EQ(Args("[f(a='con' \"cat\"\n 'enated', b='line\\\ncontinued')]"),
            J(R"({"a":"concatenated","b":"linecontinued"})"));
  EXPECT_EQ(Args("[f(city=\"日本 — Zürich\", emoji='🙂')]"), J(R"({"city":"日本 — Zürich","emoji":"🙂"})"));
  EXPECT_EQ(Args("[f(a='x', # a comment\n b=2)]"), J(R"({"a":"x","b":2})"));
}

TEST(ToolCallsTest, JsonForm) {
  auto check = [](std::string_view text, const char* name, const char* arguments) {
    const auto calls = MustParse(text);
    ASSERT_EQ(calls.size(), 1u) << text;
    EXPECT_EQ(calls[0].name, name);
    EXPECT_EQ(calls[0].arguments, J(arguments)) << text;
  };
  check(R"([{"name": "f", "arguments": {"a": 1, "p": "a\/b"}}])", "f", R"({"a":1,"p":"a/b"})");
  check(R"({"name": "f", "arguments": {"a": [true]}})", "f", R"({"a":[true]})");
  check(R"([{"name": "f", "arguments": "{\"a\": 2}"}])", "f", R"({"a":2})");
  check(R"([{"name": "f", "parameters": {"b": null}}])", "f", R"({"b":null})");
  check(R"([{"name": "f"}])", "f", "{}");
  check(R"([{"type": "function", "function": {"name": "g", "arguments": {"x": "y"}}}])", "g", R"({"x":"y"})");
  check(R"([{'name': 'f', 'arguments': {'a': True, 'b': None}}])", "f", R"({"a":true,"b":null})");
  EXPECT_EQ(MustParse(R"([{"name": "a"}, {"name": "b", "arguments": {}}])").size(), 2u);
  EXPECT_FALSE(ParseToolCalls(R"([{"arguments": {}}])").ok());
  EXPECT_FALSE(ParseToolCalls(R"([{"name": "f", "arguments": [1]}])").ok());
  EXPECT_FALSE(ParseToolCalls(R"([{"name": "f", "arguments": "not json"}])").ok());
}

TEST(ToolCallsTest, PositionalArguments) {
  auto rejected = ParseToolCalls("[get_weather('Paris', unit='C')]");
  ASSERT_FALSE(rejected.ok());
  EXPECT_NE(rejected.status().message().find("positional"), std::string::npos);
  const Json tools = J(R"([{"type": "function", "function": {"name": "get_weather",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string"}}}}}])");
  const ToolCallParseOptions options = ToolCallOptionsFromTools(tools);
  EXPECT_EQ(MustParse("[get_weather('Paris', unit='C')]", options)[0].ArgumentsJson(),
            R"({"city":"Paris","unit":"C"})");
  EXPECT_EQ(MustParse("[get_weather('Paris', 'C')]", options)[0].ArgumentsJson(),
            R"({"city":"Paris","unit":"C"})");
  EXPECT_FALSE(ParseToolCalls("[get_weather('Paris', 'C', 1)]", options).ok());
  EXPECT_FALSE(ParseToolCalls("[get_weather('Paris', city='Rome')]", options).ok());
  EXPECT_FALSE(ParseToolCalls("[get_weather(unit='C', 'Paris')]", options).ok());
}

TEST(ToolCallsTest, MalformedSectionsAreErrors) {
  std::string deep = "[f(a=" + std::string(100, '[') + std::string(100, ']') + ")]";
  std::string fine = "[f(a=" + std::string(60, '[') + std::string(60, ']') + ")]";
  EXPECT_TRUE(ParseToolCalls(fine).ok());
  for (const std::string& bad : std::vector<std::string>{
           "", "   ", "[]", "[f(]", "[f(a=)]", "[f(a=b)]", "[f(a=1)] extra", "[f(**kw)]",
           "[f(*a)]", "[f(a=1e999)]", "[f(a=b'x')]", "[f(a=f'x')]", "[f(a=1j)]", "[f(a=007)]",
           "[f(a='unterminated)]", "[f(a=[1,2)]", "[f(a=1, a=2)]", "[f(a=g())]", "[1, 2]",
           "[f(a={[1]: 2})]", "[f(a=1__0)]", "[f(a=1_)]", "[f(a='\\N{DASH}')]", "[f(a='\\x4')]",
           "[f(a='x\ny')]", "[.f()]", "[f.(a=1)]", "[f(a=-'x')]", "[f(a=0x)]", "[f(a=1.2.3)]",
           "<|tool_call_start|>[f()]", deep}) {
    auto result = ParseToolCalls(bad);
    EXPECT_FALSE(result.ok()) << bad;
    if (!result.ok()) {
      EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument) << bad;
    }
  }
}

std::string Start() { return std::string(kToolCallStart); }
std::string End() { return std::string(kToolCallEnd); }

TEST(ToolCallsTest, SplitContentAndCalls) {
  ToolCallOutput out = SplitToolCalls("Let me check." + Start() + "[get_weather(city=\"Paris\")]" + End() +
                                      "Checking." + Start() + "[a(), b(x=1)]" + End());
  EXPECT_EQ(out.content, "Let me check.Checking.");
  ASSERT_EQ(out.tool_calls.size(), 3u);
  EXPECT_EQ(out.tool_calls[0].name, "get_weather");
  EXPECT_EQ(out.tool_calls[2].ArgumentsJson(), R"({"x":1})");

  out = SplitToolCalls("no calls here <|tool");
  EXPECT_EQ(out.content, "no calls here <|tool");
  EXPECT_TRUE(out.tool_calls.empty());

  const std::string malformed = "a" + Start() + "[f(x=]" + End() + "b" + Start() + "[g()]" + End();
  out = SplitToolCalls(malformed);
  EXPECT_EQ(out.content, "a" + Start() + "[f(x=]" + End() + "b");
  ASSERT_EQ(out.tool_calls.size(), 1u);
  EXPECT_EQ(out.tool_calls[0].name, "g");

  out = SplitToolCalls("text" + Start() + "[f(x=1)");  // cut off by max_tokens
  EXPECT_EQ(out.content, "text" + Start() + "[f(x=1)");
  EXPECT_TRUE(out.tool_calls.empty());
}

TEST(ToolCallsTest, StreamingEmitsContentEarlyAndCallsAtTheEnd) {
  ToolCallStreamParser parser;
  auto events = parser.Feed("Hello");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].content, "Hello");
  events = parser.Feed(" there <|tool");  // may be a start marker: held back
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].content, " there ");
  events = parser.Feed("_call_start|>[f(a=");
  EXPECT_TRUE(events.empty());
  EXPECT_TRUE(parser.inside_section());
  events = parser.Feed("1)]<|tool_call_end|>after");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, ToolCallEvent::Kind::kToolCall);
  EXPECT_EQ(events[0].call.name, "f");
  EXPECT_EQ(events[1].content, "after");
  events = parser.Feed("<|tools are great");  // a false alarm comes out once decided
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].content, "<|tools are great");
  EXPECT_TRUE(parser.Finish().empty());
}

// Every split of the text into two or three pieces, and random splits, give the same result as
// SplitToolCalls.
TEST(ToolCallsTest, StreamingMatchesSplitForAnyChunking) {
  const std::vector<std::string> texts = {
      "Sure." + Start() + "[get_weather(city=\"Paris\"), t(x=[1, {'a': None}])]" + End() + "Done.",
      Start() + "[{\"name\": \"f\", \"arguments\": {}}]" + End(),
      "x" + Start() + "[broken(" + End() + "y" + Start() + "[ok()]" + End() + "<|tool_call_",
      "plain text with < | and <|im_end|> and " + Start(),
      "日本" + Start() + "[f(s='ü')]" + End() + "😀",
  };
  auto run = [](const std::string& text, const std::vector<size_t>& cuts) {
    ToolCallStreamParser parser;
    ToolCallOutput out;
    size_t last = 0;
    auto take = [&](std::vector<ToolCallEvent> events) {
      for (auto& e : events) {
        if (e.kind == ToolCallEvent::Kind::kContent) {
          out.content += e.content;
        } else {
          out.tool_calls.push_back(e.call);
        }
      }
    };
    for (size_t cut : cuts) {
      take(parser.Feed(std::string_view(text).substr(last, cut - last)));
      last = cut;
    }
    take(parser.Feed(std::string_view(text).substr(last)));
    take(parser.Finish());
    return out;
  };
  Random rng(3);
  for (const std::string& text : texts) {
    const ToolCallOutput whole = SplitToolCalls(text);
    auto same = [&](const ToolCallOutput& got, const std::string& how) {
      EXPECT_EQ(got.content, whole.content) << how;
      ASSERT_EQ(got.tool_calls.size(), whole.tool_calls.size()) << how;
      for (size_t i = 0; i < got.tool_calls.size(); ++i) {
        EXPECT_EQ(got.tool_calls[i].name, whole.tool_calls[i].name);
        EXPECT_EQ(got.tool_calls[i].arguments, whole.tool_calls[i].arguments);
      }
    };
    for (size_t i = 0; i <= text.size(); ++i) {
      for (size_t j = i; j <= text.size(); j += 7) same(run(text, {i, j}), "cuts " + std::to_string(i));
    }
    for (int trial = 0; trial < 50; ++trial) {
      std::vector<size_t> cuts;
      for (size_t i = 0; i < text.size(); ++i) {
        if (rng.Uniform() < 0.3) cuts.push_back(i);
      }
      same(run(text, cuts), "random cuts");
    }
  }
}

}  // namespace
}  // namespace lfm2
