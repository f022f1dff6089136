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

}  // namespace
}  // namespace lfm2
