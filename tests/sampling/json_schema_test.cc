// JSON-schema constrained decoding: random walks over allowed tokens always end in documents that
// parse and validate (independent validator), every valid example's tokens stay allowed, invalid
// continuations are masked, stop / special tokens behave, unsupported keywords are refused, the
// mask cache never changes a mask, and the sampler hook only ever samples allowed tokens.
#include "sampling/json_schema.h"

#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "json_test_validator.h"
#include "sampling/json_schema_test_util.h"

namespace lfm2 {
namespace {

using testing::ByteVocabulary;
using testing::GoldenVocabulary;
using testing::TestVocabulary;

struct SchemaCase {
  const char* name;
  const char* schema;
  std::vector<const char*> valid;  // canonical-whitespace documents that must stay producible
};

const std::vector<SchemaCase>& Cases() {
  static const std::vector<SchemaCase> cases = {
      {"person", R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name","age"]})",
       {R"({"name": "Ada", "age": 36})", R"({"name":"","age":-7})", R"({"name": "\u00e9\n\"", "age": 0})"}},
      {"optional_props", R"({"type":"object","properties":{"a":{"type":"boolean"},"b":{"type":"null"},"c":{"type":"number"}}})",
       {"{}", R"({"b": null})", R"({"a": true, "c": -1.5e+3})", R"({"a":false,"b":null,"c":0})"}},
      {"pydantic", R"({"$defs":{"Color":{"enum":["red","green"],"title":"Color","type":"string"},
          "Item":{"properties":{"id":{"title":"Id","type":"integer"},"tags":{"items":{"type":"string"},"title":"Tags","type":"array"},
          "color":{"anyOf":[{"$ref":"#/$defs/Color"},{"type":"null"}],"default":null}},"required":["id","tags"],"title":"Item","type":"object"}},
          "properties":{"items":{"items":{"$ref":"#/$defs/Item"},"title":"Items","type":"array"},"owner":{"title":"Owner","type":"string"}},
          "required":["items","owner"],"title":"Order","type":"object"})",
       {R"({"items": [{"id": 1, "tags": ["a", "b"], "color": "red"}, {"id": 2, "tags": []}], "owner": "me"})",
        R"({"items": [], "owner": ""})", R"({"items":[{"id":3,"tags":[],"color":null}],"owner":"x"})"}},
      {"bounded_array", R"({"type":"array","items":{"type":"number"},"minItems":1,"maxItems":4})",
       {"[1]", "[1, 2.5, -3, 4e2]", "[0,0,0]"}},
      {"tuple", R"({"type":"array","prefixItems":[{"type":"string"},{"type":"integer"},{"type":"boolean"}],"items":false})",
       {"[]", R"(["a"])", R"(["a", 1, true])"}},
      {"tuple_min", R"({"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"minItems":3,"items":{"type":"null"}})",
       {R"(["a", 1, null])", R"(["a", 1, null, null])"}},
      {"string_length", R"({"type":"string","minLength":2,"maxLength":5})",
       {R"("ab")", R"("日本語です")", R"("\u00e9\t\\")"}},
      {"pattern_code", R"({"type":"string","pattern":"^[a-z]{2,4}-\\d{3}$"})", {R"("ab-123")", R"("abcd-000")"}},
      {"pattern_search", R"({"type":"string","pattern":"ab|cd"})", {R"("xxabyy")", R"("cd")"}},
      {"pattern_escapes", R"({"type":"string","pattern":"^[\"\\\\\n\t/]{1,4}$"})",
       {R"("\"")", R"("\\\n\t/")"}},
      {"pattern_unicode", R"({"type":"string","pattern":"^[α-ω]+(\\.[0-9a-f]{2})?$"})", {R"("αβγ")", R"("ω.ff")"}},
      {"pattern_groups", R"({"type":"string","pattern":"^(?:(ab)+|x{3}|[^a-z]?)$","maxLength":6})",
       {R"("ababab")", R"("xxx")", R"("")", R"("Q")"}},
      {"date", R"({"type":"string","format":"date"})", {R"("2024-02-28")", R"("1999-12-31")"}},
      {"time", R"({"type":"string","format":"time"})", {R"("23:59:59Z")", R"("00:00:00.123+05:30")"}},
      {"date_time", R"({"type":"string","format":"date-time"})", {R"("2024-01-01T12:00:00Z")"}},
      {"uuid", R"({"type":"string","format":"uuid"})", {R"("123e4567-e89b-12d3-a456-426614174000")"}},
      {"email", R"({"type":"string","format":"email"})", {R"("a.b@example.com")"}},
      {"ipv4", R"({"type":"string","format":"ipv4"})", {R"("192.168.0.1")", R"("0.0.0.0")"}},
      {"hostname", R"({"type":"string","format":"hostname"})", {R"("example.com")", R"("a-b")"}},
      {"int_range", R"({"type":"integer","minimum":-5,"maximum":1234})", {"-5", "0", "1234", "999"}},
      {"int_exclusive", R"({"type":"integer","exclusiveMinimum":99,"exclusiveMaximum":1000})", {"100", "999"}},
      {"int_draft4", R"({"type":"integer","minimum":0,"exclusiveMinimum":true,"maximum":10})", {"1", "10"}},
      {"number_unit", R"({"type":"number","minimum":0,"maximum":1})", {"0", "1", "0.5", "1.000", "0.999"}},
      {"number_range", R"({"type":"number","minimum":-2,"exclusiveMaximum":3})", {"-2", "-1.5", "2.999", "0"}},
      {"number_positive", R"({"type":"number","exclusiveMinimum":0})", {"0.001", "5", "12.5"}},
      {"enum", R"({"enum":["red",1,null,true,{"a":[1,2]},2.5]})", {R"("red")", "1", "null", "true", R"({"a":[1,2]})", "2.5"}},
      {"const", R"({"const":"fixed \"q\""})", {R"("fixed \"q\"")"}},
      {"typed_enum", R"({"type":"string","enum":["a",1,"b"]})", {R"("a")", R"("b")"}},
      {"nullable_types", R"({"type":"object","properties":{"s":{"type":["string","null"]},"n":{"type":["integer","boolean"]}},"required":["s","n"]})",
       {R"({"s": null, "n": true})", R"({"s": "x", "n": -3})"}},
      {"extra_schema", R"({"type":"object","properties":{"id":{"type":"string"}},"required":["id"],"additionalProperties":{"type":"integer"}})",
       {R"({"id": "x"})", R"({"id": "x", "count": 3, "ID": 4})"}},
      {"extra_true", R"({"type":"object","properties":{"k":{"const":1}},"additionalProperties":true})",
       {R"({"k": 1, "other": [1, {"z": null}]})", R"({"x": "y"})"}},
      {"dict", R"({"type":"object","additionalProperties":{"type":"string","maxLength":3}})", {"{}", R"({"a": "b", "": "xyz"})"}},
      {"untyped_props", R"({"properties":{"x":{"type":"integer"}},"required":["x"]})", {R"({"x": 1})"}},
      {"tree", R"({"$defs":{"node":{"type":"object","properties":{"value":{"type":"integer"},"children":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["value"]}},"$ref":"#/$defs/node"})",
       {R"({"value": 1, "children": [{"value": 2}, {"value": 3, "children": [{"value": 4, "children": []}]}]})"}},
      {"allof", R"({"allOf":[{"type":"object","properties":{"a":{"type":"string"}},"required":["a"]},{"properties":{"b":{"type":"integer","minimum":0}},"required":["b"]}]})",
       {R"({"a": "x", "b": 2})"}},
      {"allof_ref", R"({"definitions":{"base":{"type":"object","properties":{"id":{"type":"integer"}},"required":["id"]}},"allOf":[{"$ref":"#/definitions/base"},{"properties":{"name":{"type":"string"}}}]})",
       {R"({"id": 1, "name": "n"})", R"({"id": 1})"}},
      {"oneof", R"({"oneOf":[{"type":"object","properties":{"kind":{"const":"circle"},"r":{"type":"number"}},"required":["kind","r"],"additionalProperties":false},
          {"type":"object","properties":{"kind":{"const":"square"},"side":{"type":"integer"}},"required":["kind","side"],"additionalProperties":false}]})",
       {R"({"kind": "circle", "r": 1.5})", R"({"kind": "square", "side": 2})"}},
      {"anyof_siblings", R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}},"anyOf":[{"required":["a"]},{"required":["b"]}]})",
       {R"({"a": 1})", R"({"b": 2})", R"({"a": 1, "b": 2})"}},
      {"anything", "{}", {"1", R"("s")", R"({"a": [true, null]})", "[]", "-0.5E-7"}},
      {"true_schema", "true", {"null", R"([1, "x"])"}},
      {"nested", R"({"type":"object","properties":{"a":{"type":"object","properties":{"b":{"type":"object","properties":{"c":{"type":"array","items":{"type":"string","enum":["x","y"]}}},"required":["c"]}},"required":["b"]}},"required":["a"]})",
       {R"({"a": {"b": {"c": ["x", "y", "x"]}}})"}},
      {"required_undeclared", R"({"type":"object","properties":{"p":{"type":"integer"}},"required":["p","q"]})", {R"({"p": 1, "q": "anything"})"}},
      {"array_of_objects", R"({"type":"array","items":{"type":"object","properties":{"x":{"type":"integer"},"y":{"type":"string","maxLength":2}},"required":["x"]},"maxItems":3})",
       {"[]", R"([{"x": 1}, {"x": 2, "y": "ab"}])"}},
      {"draft7_tuple", R"({"type":"array","items":[{"type":"integer"},{"type":"string"}],"additionalItems":{"type":"boolean"}})",
       {R"([1, "a", true, false])", "[]"}},
      {"openapi_nullable", R"({"type":"integer","nullable":true,"format":"int32"})", {"null", "7"}},
      {"empty_string_only", R"({"type":"string","maxLength":0})", {R"("")"}},
      {"big_max_length", R"({"type":"string","maxLength":300})", {R"("short")"}},
      {"many_items", R"({"type":"array","items":{"type":"object","properties":{"k":{"type":"string"},"v":{"type":"integer"}},"required":["k","v"]},"minItems":2,"maxItems":60})",
       {R"([{"k": "a", "v": 1}, {"k": "b", "v": 2}])"}},
  };
  return cases;
}

Json ParseSchema(const char* text) {
  auto parsed = ParseJson(text, "schema");
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  return parsed.ok() ? *parsed : Json();
}

std::unique_ptr<JsonSchemaConstraint> MustCompile(const Json& schema, const TestVocabulary& v) {
  auto c = JsonSchemaConstraint::Compile(schema, v.vocab);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

// LFM2_TEST_WALKS scales the number of random walks (default 24 per schema and vocabulary).
int Walks() {
  const char* env = std::getenv("LFM2_TEST_WALKS");
  return env != nullptr && std::atoi(env) > 0 ? std::atoi(env) : 24;
}

void CheckWalks(const Json& schema, const TestVocabulary& v, int walks, const std::string& name) {
  auto constraint = MustCompile(schema, v);
  ASSERT_NE(constraint, nullptr) << name;
  testing::TestValidator validator(schema);
  for (int seed = 0; seed < walks; ++seed) {
    constraint->Reset();
    const testing::WalkResult walk = testing::RandomWalk(*constraint, v, 1000 + seed, seed % 3 == 0 ? 8 : 60);
    ASSERT_TRUE(walk.complete) << name << " seed " << seed << ": " << walk.error;
    Json doc;
    try {
      doc = Json::parse(walk.text);
    } catch (const std::exception& e) {
      FAIL() << name << " seed " << seed << ": not JSON: " << walk.text << " (" << e.what() << ")";
    }
    const std::string why = validator.Check(doc);
    EXPECT_EQ(why, "") << name << " seed " << seed << ": " << walk.text;
  }
}

TEST(JsonSchemaTest, RandomWalksProduceValidDocumentsGoldenVocabulary) {
  const TestVocabulary& v = GoldenVocabulary();
  ASSERT_NE(v.vocab, nullptr) << "golden tokenizer missing at " << testing::GoldenTokenizerPath();
  for (const SchemaCase& c : Cases()) CheckWalks(ParseSchema(c.schema), v, Walks(), c.name);
}

TEST(JsonSchemaTest, RandomWalksProduceValidDocumentsByteVocabulary) {
  for (const SchemaCase& c : Cases()) CheckWalks(ParseSchema(c.schema), ByteVocabulary(), Walks(), c.name);
}

TEST(JsonSchemaTest, JsonObjectModeWalksGiveObjects) {
  for (const TestVocabulary* v : {&GoldenVocabulary(), &ByteVocabulary()}) {
    auto constraint = JsonSchemaConstraint::AnyObject(v->vocab);
    ASSERT_TRUE(constraint.ok()) << constraint.status().ToString();
    for (int seed = 0; seed < 40; ++seed) {
      (*constraint)->Reset();
      const auto walk = testing::RandomWalk(**constraint, *v, seed, 30);
      ASSERT_TRUE(walk.complete) << walk.error;
      Json doc = Json::parse(walk.text, nullptr, /*allow_exceptions=*/false);
      EXPECT_TRUE(doc.is_object()) << walk.text;
    }
  }
}

TEST(JsonSchemaTest, ValidExamplesAreNeverMasked) {
  for (const TestVocabulary* v : {&GoldenVocabulary(), &ByteVocabulary()}) {
    for (const SchemaCase& c : Cases()) {
      auto constraint = MustCompile(ParseSchema(c.schema), *v);
      ASSERT_NE(constraint, nullptr) << c.name;
      const Json schema = ParseSchema(c.schema);
      testing::TestValidator validator(schema);
      for (const char* example : c.valid) {
        ASSERT_EQ(validator.Check(Json::parse(example)), "") << c.name << ": bad example " << example;
        constraint->Reset();
        std::string prefix;
        for (int32_t id : v->Encode(example)) {
          ASSERT_TRUE(constraint->IsAllowed(id))
              << c.name << ": token \"" << v->vocab->bytes(id) << "\" masked after \"" << prefix
              << "\" in " << example;
          ASSERT_TRUE(constraint->Accept(id).ok());
          prefix += v->vocab->bytes(id);
        }
        EXPECT_TRUE(constraint->Complete()) << c.name << ": " << example;
        for (int32_t stop : v->vocab->stop_ids()) EXPECT_TRUE(constraint->IsAllowed(stop));
      }
    }
  }
}

// Feeds `text` byte by byte; returns how many bytes were accepted.
size_t AcceptedPrefix(JsonSchemaConstraint& c, std::string_view text) {
  c.Reset();
  for (size_t i = 0; i < text.size(); ++i) {
    if (!c.AcceptText(text.substr(i, 1)).ok()) return i;
  }
  return text.size();
}

TEST(JsonSchemaTest, InvalidContinuationsAreRejected) {
  struct Reject {
    const char* schema;
    const char* text;  // rejected at its last byte
  };
  const Reject rejects[] = {
      {R"({"type":"integer"})", "1."},
      {R"({"type":"integer"})", "01"},
      {R"({"type":"integer"})", "+"},
      {R"({"type":"number"})", "1.e"},
      {R"({"type":"integer","minimum":-5,"maximum":1234})", "-6"},
      {R"({"type":"integer","minimum":-5,"maximum":1234})", "1235"},
      {R"({"type":"integer","minimum":-5,"maximum":1234})", "12345"},
      {R"({"type":"number","minimum":0,"maximum":1})", "1.0001"},
      {R"({"type":"number","minimum":0,"maximum":1})", "-"},
      {R"({"type":"number","exclusiveMinimum":0})", "-"},
      {R"({"type":"object","properties":{"a":{"type":"string"}}})", "{\"b"},
      {R"({"type":"object","properties":{"a":{"type":"string"}}})", "{ "},
      {R"({"type":"object","properties":{"a":{"type":"string"}}})", "{\"a\":  "},
      {R"({"type":"object","properties":{"a":{"type":"string"},"b":{"type":"string"}},"required":["b"]})", "{}"},
      {R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}}})", "{\"b\": 1,"},
      {R"({"type":"object","properties":{"id":{"type":"string"}},"additionalProperties":{"type":"integer"}})", "{\"id\": \"x\", \"id\""},
      {R"({"type":"string","maxLength":2})", "\"abc"},
      {R"({"type":"string","minLength":2})", "\"a\""},
      {R"({"type":"string","pattern":"^[a-z]+$"})", "\"aB"},
      {R"({"type":"string","pattern":"^[a-z]+$"})", "\"\\"},
      {R"({"type":"string"})", "\"\x01"},
      {R"({"type":"string"})", "\"\\x"},
      {R"({"type":"string"})", "\"\\udc"},
      {R"({"type":"string"})", "\"\\ud800\\u0"},
      {R"({"type":"string"})", "\"\xC0"},
      {R"({"type":"string"})", "\"\xED\xA0"},
      {R"({"type":"string","format":"date"})", "\"2023-02-3"},
      {R"({"type":"string","format":"date"})", "\"2023-13"},
      {R"({"enum":["red","green"]})", "\"b"},
      {R"({"const":1})", "10"},
      {R"({"type":"array","maxItems":2})", "[1, 2,"},
      {R"({"type":"array","minItems":2})", "[1]"},
      {R"({"type":"array","prefixItems":[{"type":"string"}],"items":false})", "[\"a\","},
      {R"({"type":"boolean"})", "tru "},
      {"{}", " "},
      {"{}", "1 "},
  };
  for (const Reject& r : rejects) {
    auto c = MustCompile(ParseSchema(r.schema), ByteVocabulary());
    ASSERT_NE(c, nullptr) << r.schema;
    const std::string text = r.text;
    EXPECT_EQ(AcceptedPrefix(*c, text), text.size() - 1) << r.schema << " text " << text;
  }
}

TEST(JsonSchemaTest, StopAndSpecialTokens) {
  const TestVocabulary& v = ByteVocabulary();
  auto c = MustCompile(ParseSchema(R"({"type":"object","properties":{"a":{"type":"integer"}}})"), v);
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(c->IsAllowed(256));  // stop before anything
  EXPECT_FALSE(c->IsAllowed(257));  // special token: never
  EXPECT_FALSE(c->Accept(256).ok());
  EXPECT_TRUE(c->AcceptText("{\"a\": 12").ok());
  EXPECT_FALSE(c->IsAllowed(256));
  EXPECT_TRUE(c->IsAllowed('3'));
  EXPECT_TRUE(c->AcceptText("}").ok());
  EXPECT_TRUE(c->Complete());
  EXPECT_TRUE(c->Finished());
  // Only the stop token remains; Mask sets everything else (and ids past the vocabulary) to -inf.
  std::vector<float> logits(v.vocab->size() + 10, 1.0f);
  c->Mask(logits);
  for (size_t i = 0; i < logits.size(); ++i) {
    EXPECT_EQ(std::isinf(logits[i]), i != 256) << i;
  }
  EXPECT_TRUE(c->Accept(256).ok());
  // A top-level number is complete after "12" but may continue.
  auto number = MustCompile(ParseSchema(R"({"type":"integer"})"), v);
  EXPECT_TRUE(number->AcceptText("12").ok());
  EXPECT_TRUE(number->Complete());
  EXPECT_FALSE(number->Finished());
  EXPECT_TRUE(number->IsAllowed(256));
  EXPECT_TRUE(number->IsAllowed('7'));
  EXPECT_FALSE(number->IsAllowed(' '));
}

TEST(JsonSchemaTest, MaskCacheNeverChangesTheMask) {
  const TestVocabulary& v = GoldenVocabulary();
  for (const char* schema : {Cases()[2].schema, Cases()[33].schema, "{}"}) {
    auto cached = MustCompile(ParseSchema(schema), v);
    auto uncached = MustCompile(ParseSchema(schema), v);
    uncached->matcher().set_cache_enabled(false);
    for (int seed = 0; seed < 5; ++seed) {
      cached->Reset();
      const auto walk = testing::RandomWalk(*cached, v, seed, 30);
      ASSERT_TRUE(walk.complete) << walk.error;
      uncached->Reset();
      cached->Reset();
      for (int32_t id : v.Encode(walk.text)) {
        ASSERT_EQ(cached->AllowedTokens(), uncached->AllowedTokens()) << cached->text();
        ASSERT_TRUE(cached->Accept(id).ok());
        ASSERT_TRUE(uncached->Accept(id).ok());
      }
    }
  }
}

TEST(JsonSchemaTest, NestingIsBoundedWithoutDeadEnds) {
  JsonSchemaOptions options;
  options.max_stack_depth = 4;
  auto c = JsonSchemaConstraint::Compile(ParseSchema("{}"), ByteVocabulary().vocab, options);
  ASSERT_TRUE(c.ok());
  // Each container level is a call; at the limit '[' is masked but the text can still close.
  size_t depth = 0;
  while ((*c)->IsAllowed('[')) {
    ASSERT_TRUE((*c)->Accept('[').ok());
    ++depth;
  }
  EXPECT_GE(depth, 3u);
  EXPECT_LE(depth, 5u);
  for (size_t i = 0; i < depth; ++i) ASSERT_TRUE((*c)->Accept(']').ok());
  EXPECT_TRUE((*c)->Complete());
}

TEST(JsonSchemaTest, SamplerHookOnlySamplesAllowedTokens) {
  const TestVocabulary& v = GoldenVocabulary();
  const Json schema = ParseSchema(Cases()[0].schema);
  auto c = MustCompile(schema, v);
  SamplingParams params;
  params.temperature = 1.0;
  params.min_p = 0.0;
  params.seed = 5;
  Sampler sampler(params, v.vocab->size());
  std::vector<int32_t> history;
  Random noise(9);
  // Random logits, with structural tokens favoured a little as a model would.
  std::vector<int32_t> favoured;
  for (const char* t : {"\"", "}", "\",", ", \"", "1", "age"}) {
    if (v.ids.count(t)) favoured.push_back(v.ids.at(t));
  }
  for (int step = 0; step < 2000; ++step) {
    std::vector<float> logits(v.vocab->size() + 64);
    for (float& x : logits) x = static_cast<float>(noise.Uniform() * 4.0);
    for (int32_t id : favoured) logits[id] += 6.0f;
    const int32_t token = sampler.Sample(logits, history, c.get());
    ASSERT_TRUE(c->Accept(token).ok()) << "sampled a masked token " << token;
    EXPECT_TRUE(std::isfinite(sampler.LogProb(token)));
    history.push_back(token);
    if (v.vocab->IsStop(token)) break;
  }
  ASSERT_TRUE(c->Complete());
  EXPECT_EQ(testing::TestValidator(schema).Check(Json::parse(c->text())), "") << c->text();
}

TEST(JsonSchemaTest, UnsupportedAndMalformedSchemasAreErrors) {
  struct Bad {
    const char* schema;
    StatusCode code;
    std::vector<const char*> mentions;
  };
  const Bad bads[] = {
      {R"({"type":"object","properties":{"a":{"not":{"type":"string"}}}})", StatusCode::kUnsupported, {"\"not\"", "#/properties/a"}},
      {R"({"patternProperties":{"^x":{}}})", StatusCode::kUnsupported, {"patternProperties", "#"}},
      {R"({"type":"integer","multipleOf":3})", StatusCode::kUnsupported, {"multipleOf"}},
      {R"({"type":"array","uniqueItems":true})", StatusCode::kUnsupported, {"uniqueItems"}},
      {R"({"type":"array","items":{"contains":{}}})", StatusCode::kUnsupported, {"contains", "#/items"}},
      {R"({"if":{},"then":{}})", StatusCode::kUnsupported, {"\"if\""}},
      {R"({"$ref":"https://example.com/s.json"})", StatusCode::kUnsupported, {"local references"}},
      {R"({"$ref":"#/$defs/missing"})", StatusCode::kInvalidArgument, {"does not resolve"}},
      {R"({"type":"string","format":"uri"})", StatusCode::kUnsupported, {"uri", "#/format"}},
      {R"({"type":"string","pattern":"(?=a)b"})", StatusCode::kUnsupported, {"lookaround", "#/pattern"}},
      {R"({"type":"string","pattern":"\\bword"})", StatusCode::kUnsupported, {"word boundary"}},
      {R"({"type":"string","pattern":"(a)\\1"})", StatusCode::kUnsupported, {"backreference"}},
      {R"({"type":"string","pattern":"a{2000}"})", StatusCode::kUnsupported, {"1000"}},
      {R"({"type":"string","pattern":"[z-a]"})", StatusCode::kUnsupported, {"out of order"}},
      {R"({"type":"string","pattern":"a","format":"date"})", StatusCode::kUnsupported, {"pattern together with format"}},
      {R"({"type":"number","minimum":0.5})", StatusCode::kUnsupported, {"non-integer", "#/minimum"}},
      {R"({"type":"strin"})", StatusCode::kInvalidArgument, {"unknown type"}},
      {R"({"type":"string","minLength":"3"})", StatusCode::kInvalidArgument, {"minLength"}},
      {R"({"type":"string","maxLength":100000000})", StatusCode::kUnsupported, {"maxLength", "too large"}},
      {R"({"type":"object","properties":{"a":{"type":"integer","minimum":5,"maximum":3}},"required":["a"]})", StatusCode::kUnsupported, {"admits no document"}},
      {R"({"$defs":{"a":{"$ref":"#/$defs/a"}},"$ref":"#/$defs/a"})", StatusCode::kUnsupported, {"recursive"}},
      {R"({"anyOf":[{"$ref":"#"},{"type":"string"}]})", StatusCode::kUnsupported, {"recursive"}},
      {R"({"$defs":{"a":{"allOf":[{"$ref":"#/$defs/a"}]}},"$ref":"#/$defs/a"})", StatusCode::kUnsupported, {"nested deeper"}},
      {R"([1,2])", StatusCode::kInvalidArgument, {"must be an object or a boolean"}},
      {"false", StatusCode::kUnsupported, {"admits no document"}},
  };
  for (const Bad& bad : bads) {
    auto result = CompileJsonSchema(ParseSchema(bad.schema));
    ASSERT_FALSE(result.ok()) << bad.schema;
    EXPECT_EQ(result.status().code(), bad.code) << bad.schema << ": " << result.status().ToString();
    for (const char* mention : bad.mentions) {
      EXPECT_NE(result.status().message().find(mention), std::string::npos)
          << bad.schema << ": " << result.status().ToString();
    }
  }
  // Annotations and trivially true keywords are fine.
  EXPECT_TRUE(CompileJsonSchema(ParseSchema(
      R"({"$schema":"https://json-schema.org/draft/2020-12/schema","$id":"x","title":"t","description":"d","examples":[1],
          "default":1,"x-extra":{},"type":"integer","deprecated":false,"uniqueItems":false,"minProperties":0})")).ok());
}

TEST(JsonSchemaTest, RegexFeatures) {
  struct Match {
    const char* pattern;
    const char* text;  // the string value (unquoted, no escapes needed)
    bool complete;
  };
  const Match matches[] = {
      {"^a{2,3}$", "aa", true},       {"^a{2,3}$", "a", false},       {"^a{2,}$", "aaaaa", true},
      {"^(ab|cd)+$", "abcdab", true}, {"^(ab|cd)+$", "abc", false},   {"^\\d\\w\\s$", "1_ ", true},
      {"^[^0-9]$", "x", true},        {"^.$", "\xE2\x82\xAC", true},  {"^\\x41\\u0042$", "AB", true},
      {"^a?b*c+$", "c", true},        {"^[\\-a]$", "-", true},        {"^(?<year>\\d{4})$", "2024", true},
      {"^a|b$", "axxx", true},        {"^a|b$", "xxb", true},         {"^a|b$", "xx", false},
      {"x", "yyxyy", true},           {"^[a-c]{1,2}?$", "ab", true},  {"^\\.$", ".", true},
  };
  for (const Match& m : matches) {
    Json schema = {{"type", "string"}, {"pattern", m.pattern}};
    auto c = MustCompile(schema, ByteVocabulary());
    ASSERT_NE(c, nullptr) << m.pattern;
    const std::string text = std::string("\"") + m.text;
    ASSERT_TRUE(c->AcceptText(text).ok()) << m.pattern << " / " << m.text;
    EXPECT_EQ(c->AcceptText("\"").ok(), m.complete) << m.pattern << " / " << m.text;
  }
}

TEST(JsonSchemaTest, EscapesCountAsOneCharacter) {
  auto c = MustCompile(ParseSchema(R"({"type":"string","maxLength":1})"), ByteVocabulary());
  for (const char* one : {R"("\ud83d\ude00")", R"("\u00e9")", R"("\/")", R"("\n")", "\"\xF0\x9F\x98\x80\""}) {
    c->Reset();
    EXPECT_TRUE(c->AcceptText(one).ok()) << one;
    EXPECT_TRUE(c->Complete()) << one;
  }
  c->Reset();
  EXPECT_EQ(AcceptedPrefix(*c, R"("\ud83d\ude000)"), 13u);  // a second character is too many
}

TEST(JsonSchemaTest, ShortestCompletionClosesTheDocument) {
  auto c = MustCompile(ParseSchema(Cases()[2].schema), ByteVocabulary());
  ASSERT_TRUE(c->AcceptText(R"({"items": [{"id": 1, "tags": ["a)").ok());
  const auto rest = c->matcher().ShortestCompletion();
  ASSERT_TRUE(rest.has_value());
  EXPECT_EQ(*rest, R"("]}],"owner":""})");
  ASSERT_TRUE(c->AcceptText(*rest).ok());
  EXPECT_TRUE(c->Complete());
}

TEST(JsonSchemaTest, WhitespaceOption) {
  JsonSchemaOptions compact;
  compact.space_after_separators = false;
  auto c = JsonSchemaConstraint::Compile(ParseSchema(Cases()[0].schema), ByteVocabulary().vocab, compact);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE((*c)->AcceptText("{\"name\": ").ok());
  EXPECT_TRUE((*c)->AcceptText("{\"name\":\"a\",\"age\":1}").ok());
  EXPECT_TRUE((*c)->Complete());
}

}  // namespace
}  // namespace lfm2
