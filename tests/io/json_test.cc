#include "io/json.h"

#include <gtest/gtest.h>

namespace lfm2 {
namespace {

TEST(JsonTest, ParsesAndKeepsInsertionOrder) {
  auto parsed = ParseJson(R"({"b": 1, "a": [1, 2], "c": {"z": true, "y": null}})", "test");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(DumpJson(*parsed), R"({"b":1,"a":[1,2],"c":{"z":true,"y":null}})");
}

TEST(JsonTest, SyntaxErrorNamesLineAndColumn) {
  auto parsed = ParseJson("{\n  \"a\": 1,\n  \"b\": ]\n}", "config.json");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("config.json: invalid JSON at line 3"),
            std::string::npos)
      << parsed.status().message();
}

TEST(JsonTest, RefusesDuplicateKeys) {
  auto parsed = ParseJson(R"({"a": 1, "b": {"a": 2, "c": 3}, "a": 4})", "x.json");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("duplicate key \"a\""), std::string::npos);
  // The same key in sibling and nested objects is fine.
  EXPECT_TRUE(ParseJson(R"([{"a": 1}, {"a": 2, "b": {"a": 3}}])", "x.json").ok());
}

TEST(JsonTest, TypedAccessors) {
  Json object = *ParseJson(R"({"n": 3, "f": 2.0, "g": 2.5, "s": "x", "b": true, "z": null})", "t");
  EXPECT_EQ(*GetInt(object, "n", "t"), 3);
  EXPECT_EQ(*GetInt(object, "f", "t"), 2);  // Python-style integral float
  EXPECT_FALSE(GetInt(object, "g", "t").ok());
  EXPECT_EQ(*GetString(object, "s", "t"), "x");
  EXPECT_TRUE(*GetBool(object, "b", "t"));
  EXPECT_EQ(*FindInt(object, "missing", 7, "t"), 7);
  EXPECT_EQ(*FindInt(object, "z", 7, "t"), 7);
  auto wrong = GetString(object, "n", "cfg");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().message(), "cfg: key \"n\" must be a string, got integer 3");
  auto missing = GetInt(object, "q", "cfg");
  EXPECT_EQ(missing.status().message(), "cfg: missing required key \"q\"");
}

TEST(JsonTest, DepthLimitStopsBeforeBuildingAndNamesThePath) {
  JsonLimits limits;
  limits.max_depth = 4;
  EXPECT_TRUE(ParseJson(R"({"a":[[{"b":1}]]})", "t", limits).ok());  // 4 levels
  auto deep = ParseJson(R"({"a":[[{"b":[1]}]]})", "body", limits);
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(deep.status().message(), "body: nesting deeper than 4 levels at $.a[0][0].b");
  // Keys that are not identifiers are quoted; array positions count the items before.
  auto odd = ParseJson(R"({"odd key":[0,1,[[[]]]]})", "body", limits);
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.status().message(), "body: nesting deeper than 4 levels at $[\"odd key\"][2][0][0]");
}

TEST(JsonTest, MillionLevelsAreRefusedCheaply) {
  // Objects and arrays, a million levels: refused at the default limit, nothing deep is built
  // (a recursive copy or dump of such a value would overflow the stack).
  for (const char* open : {"[", "{\"k\":"}) {
    std::string text;
    for (int i = 0; i < 1000000; ++i) text += open;
    auto parsed = ParseJson(text, "deep");
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.status().code(), StatusCode::kOutOfRange);
    EXPECT_NE(parsed.status().message().find("nesting deeper than 256 levels at $"), std::string::npos);
    EXPECT_NE(parsed.status().message().find("more)..."), std::string::npos) << "long paths are shortened";
    EXPECT_LT(parsed.status().message().size(), 400u);
  }
}

TEST(JsonTest, MemoryBudgetIsEnforcedWhileBuilding) {
  std::string wide = "[";
  for (int i = 0; i < 100000; ++i) wide += i ? ",\"\"" : "\"\"";
  wide += "]";
  auto whole = ParseJson(wide, "t");
  ASSERT_TRUE(whole.ok());
  const size_t bytes = JsonHeapBytes(*whole);
  // A string element costs its slot plus a heap string object.
  EXPECT_GE(bytes, 100000u * (sizeof(Json) + sizeof(std::string)));
  JsonLimits limits;
  limits.max_bytes = bytes;
  EXPECT_TRUE(ParseJson(wide, "t", limits).ok());
  limits.max_bytes = bytes / 2;
  auto over = ParseJson(wide, "body", limits);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(over.status().message().find("body: the parsed value would need more than"), std::string::npos);
}

TEST(JsonTest, HeapBytesCountsWhatParsingCounts) {
  // The estimate made while parsing equals the walk of the result: a budget of exactly
  // JsonHeapBytes passes, one byte less fails.
  for (const char* text : {R"({"a":[1,2,{"long key beyond sixteen":"a string longer than fifteen"}],"b":{}})",
                           R"([[],{},"",null,true,1.5,"x"])", R"("just a string that is long enough")"}) {
    auto parsed = ParseJson(text, "t");
    ASSERT_TRUE(parsed.ok());
    JsonLimits limits;
    limits.max_bytes = JsonHeapBytes(*parsed);
    EXPECT_TRUE(ParseJson(text, "t", limits).ok()) << text;
    limits.max_bytes -= 1;
    if (limits.max_bytes > 0) EXPECT_FALSE(ParseJson(text, "t", limits).ok()) << text;
  }
}

TEST(JsonTest, DuplicateKeysInLargeObjects) {
  std::string text = "{";
  for (int i = 0; i < 1000; ++i) text += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  EXPECT_TRUE(ParseJson(text + "\"last\":0}", "t").ok());
  auto duplicate = ParseJson(text + "\"k517\":0}", "t");
  ASSERT_FALSE(duplicate.ok());
  EXPECT_NE(duplicate.status().message().find("duplicate key \"k517\""), std::string::npos);
}

}  // namespace
}  // namespace lfm2
