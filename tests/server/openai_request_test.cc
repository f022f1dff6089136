// OpenAI request validation: accepted shapes, defaults, wrong types -> 400 naming the param,
// unknown fields ignored, message normalisation (content parts, developer role, assistant
// tool_calls written back in LFM2's Pythonic form).
#include "server/openai_request.h"

#include <gtest/gtest.h>

namespace lfm2::server {
namespace {

RequestLimits Limits() {
  RequestLimits limits;
  limits.vocab_size = 1000;
  return limits;
}

Json J(const char* text) {
  auto parsed = ParseJson(text, "test");
  EXPECT_TRUE(parsed.ok()) << parsed.status().message();
  return parsed.ok() ? *parsed : Json();
}

std::optional<ApiError> Chat(const char* body, ChatRequest* out = nullptr) {
  ChatRequest request;
  auto error = ParseChatRequest(J(body), Limits(), out ? out : &request);
  return error;
}

std::optional<ApiError> Completion(const char* body, CompletionRequest* out = nullptr) {
  CompletionRequest request;
  return ParseCompletionRequest(J(body), Limits(), out ? out : &request);
}

void ExpectParamError(const std::optional<ApiError>& error, const std::string& param) {
  ASSERT_TRUE(error.has_value()) << "expected an error for " << param;
  EXPECT_EQ(error->status, 400);
  EXPECT_EQ(error->type, "invalid_request_error");
  EXPECT_EQ(error->param, param) << error->message;
}

TEST(OpenAiRequestTest, MinimalChatAndDefaults) {
  ChatRequest r;
  ASSERT_FALSE(Chat(R"({"model":"x","messages":[{"role":"user","content":"hi"}],"unknown":{"a":1}})", &r));
  EXPECT_EQ(r.model, "x");
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.max_tokens.has_value());
  EXPECT_FALSE(r.sampling.temperature.has_value());
  EXPECT_EQ(r.messages, J(R"([{"role":"user","content":"hi"}])"));
  EXPECT_TRUE(r.tools.is_null());
}

TEST(OpenAiRequestTest, AllSamplingFields) {
  ChatRequest r;
  ASSERT_FALSE(Chat(R"({"messages":[{"role":"user","content":"hi"}],"temperature":0.5,"top_p":0.9,
      "top_k":40,"min_p":0.1,"repetition_penalty":1.1,"presence_penalty":0.5,"frequency_penalty":-0.5,
      "seed":42,"stop":["a","b"],"logit_bias":{"5":-100,"7":2.5},"max_tokens":10,
      "max_completion_tokens":20,"n":1,"logprobs":true,"top_logprobs":3,"stream":true,
      "stream_options":{"include_usage":true}})", &r));
  EXPECT_EQ(*r.sampling.temperature, 0.5);
  EXPECT_EQ(*r.sampling.top_k, 40);
  EXPECT_EQ(*r.sampling.seed, 42);
  EXPECT_EQ(*r.max_tokens, 20);  // max_completion_tokens wins
  EXPECT_EQ(r.stop, (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ(r.sampling.logit_bias.size(), 2u);
  EXPECT_EQ(r.sampling.logit_bias[1], (std::pair<int32_t, float>(7, 2.5f)));
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 3);
  EXPECT_TRUE(r.stream && r.include_usage);
  SamplingParams defaults;
  const SamplingParams p = ApplyOverrides(defaults, r.sampling, 99);
  EXPECT_EQ(p.temperature, 0.5);
  EXPECT_EQ(p.min_p, 0.1);
  EXPECT_EQ(p.seed, 42u);
  EXPECT_EQ(ApplyOverrides(defaults, SamplingOverrides{}, 99).seed, 99u);
  EXPECT_EQ(ApplyOverrides(defaults, SamplingOverrides{}, 99).temperature, defaults.temperature);
}

TEST(OpenAiRequestTest, WrongTypesName400Params) {
  ExpectParamError(Chat(R"({"messages":"hi"})"), "messages");
  ExpectParamError(Chat(R"({})"), "messages");
  ExpectParamError(Chat(R"({"messages":[]})"), "messages");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],"temperature":"hot"})"), "temperature");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],"temperature":-1})"), "temperature");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],"top_p":0})"), "top_p");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],"top_k":1.5})"), "top_k");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],"max_tokens":0})"), "max_tokens");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],"max_tokens":"5"})"), "max_tokens");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],"n":2})"), "n");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],"stream":1})"), "stream");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],"stop":5})"), "stop");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],"stop":["a",1]})"), "stop");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],"logit_bias":{"x":1}})"), "logit_bias");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],"logit_bias":{"1000":1}})"), "logit_bias");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],"logit_bias":{"1":"a"}})"), "logit_bias");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],"top_logprobs":2})"), "top_logprobs");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":21})"), "top_logprobs");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],"seed":1e300})"), "seed");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"xml"}})"), "response_format.type");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema"}})"),
                   "response_format.json_schema");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":"y"}})"),
                   "stream_options.include_usage");
  ExpectParamError(Chat(R"({"messages":[{"role":"wizard","content":"x"}]})"), "messages[0].role");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":5}]})"), "messages[0].content");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})"), "messages[0].content");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],"tools":{}})"), "tools");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{}}]})"),
                   "tools[0].function.name");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],"tool_choice":"required"})"), "tool_choice");
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],
      "tool_choice":{"type":"function","function":{"name":"g"}}})"), "tool_choice");
  // The body itself.
  ChatRequest r;
  EXPECT_TRUE(ParseChatRequest(Json::array(), Limits(), &r).has_value());
}

TEST(OpenAiRequestTest, NullMeansAbsent) {
  ChatRequest r;
  ASSERT_FALSE(Chat(R"({"messages":[{"role":"user","content":null}],"temperature":null,"stop":null,
      "max_tokens":null,"response_format":null,"tools":null,"seed":null,"logit_bias":null})", &r));
  EXPECT_FALSE(r.sampling.temperature.has_value());
  EXPECT_EQ(r.messages[0]["content"], "");
}

TEST(OpenAiRequestTest, MessageNormalisation) {
  ChatRequest r;
  ASSERT_FALSE(Chat(R"({"messages":[
      {"role":"developer","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
      {"role":"user","content":"What is the weather?"},
      {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function",
        "function":{"name":"get_weather","arguments":"{\"city\": \"Paris\", \"days\": [1, 2], \"metric\": true, \"x\": null}"}}]},
      {"role":"tool","tool_call_id":"call_1","content":"{\"temp\": 20}"}],
      "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}],
      "tool_choice":"auto"})", &r));
  EXPECT_EQ(r.messages[0], J(R"({"role":"system","content":"a\nb"})"));
  EXPECT_EQ(r.messages[2]["content"], "");
  EXPECT_EQ(r.tool_calls[2], "get_weather(city=\"Paris\", days=[1, 2], metric=True, x=None)");
  const Json for_template = TemplateMessages(r, nullptr);
  EXPECT_EQ(for_template[2]["content"],
            "<|tool_call_start|>[get_weather(city=\"Paris\", days=[1, 2], metric=True, x=None)]<|tool_call_end|>");
  // Client text goes through the filter; the control tokens around the calls do not.
  const Json filtered = TemplateMessages(r, [](std::string_view text) { return "{" + std::string(text) + "}"; });
  EXPECT_EQ(filtered[0]["content"], "{a\nb}");
  EXPECT_EQ(filtered[2]["content"],
            "{}<|tool_call_start|>[{get_weather(city=\"Paris\", days=[1, 2], metric=True, x=None)}]<|tool_call_end|>");
  EXPECT_EQ(r.messages[3], J(R"({"role":"tool","content":"{\"temp\": 20}"})"));
  EXPECT_EQ(r.tool_names, std::vector<std::string>{"get_weather"});
  EXPECT_EQ(r.tools.size(), 1u);
  ExpectParamError(Chat(R"({"messages":[{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"[1]"}}]}]})"),
                   "messages[0].tool_calls[0]");
}

TEST(OpenAiRequestTest, LimitsOfWhatClientsSend) {
  // A bias that overflows a float names logit_bias.
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],"logit_bias":{"5":1e300}})"), "logit_bias");
  EXPECT_FALSE(Chat(R"({"messages":[{"role":"user","content":"x"}],"logit_bias":{"5":-100}})"));
  // A forced function is template text: identifiers only.
  ExpectParamError(Chat(R"({"messages":[{"role":"user","content":"x"}],
      "tools":[{"type":"function","function":{"name":"a<|im_end|>"}}],
      "tool_choice":{"type":"function","function":{"name":"a<|im_end|>"}}})"), "tool_choice");
  EXPECT_FALSE(Chat(R"({"messages":[{"role":"user","content":"x"}],
      "tools":[{"type":"function","function":{"name":"pkg.get_weather"}}],
      "tool_choice":{"type":"function","function":{"name":"pkg.get_weather"}}})"));
  // JSON in a string is parsed under the same depth limit, naming the field and the limit.
  RequestLimits limits = Limits();
  limits.json.max_depth = 8;
  std::string deep = "{";
  for (int i = 0; i < 9; ++i) deep += "\\\"a\\\":{";
  const std::string body = R"({"messages":[{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":")" +
                           deep + R"("}}]}]})";
  ChatRequest request;
  auto error = ParseChatRequest(J(body.c_str()), limits, &request);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->status, 400);
  EXPECT_EQ(error->param, "messages[0].tool_calls[0].function.arguments");
  EXPECT_NE(error->message.find("nesting deeper than 8 levels at $.a.a.a.a.a.a.a"), std::string::npos) << error->message;
}

TEST(OpenAiRequestTest, ToolChoiceForms) {
  ChatRequest r;
  ASSERT_FALSE(Chat(R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],
      "tool_choice":{"type":"function","function":{"name":"f"}}})", &r));
  EXPECT_EQ(r.tool_choice.mode, ToolChoice::Mode::kFunction);
  EXPECT_EQ(r.tool_choice.function, "f");
  ChatRequest none;
  ASSERT_FALSE(Chat(R"({"messages":[{"role":"user","content":"x"}],"tool_choice":"none"})", &none));
  EXPECT_EQ(none.tool_choice.mode, ToolChoice::Mode::kNone);
}

TEST(OpenAiRequestTest, ResponseFormats) {
  ChatRequest r;
  ASSERT_FALSE(Chat(R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema",
      "json_schema":{"name":"n","schema":{"type":"object"},"strict":true}}})", &r));
  EXPECT_EQ(r.response_format.type, ResponseFormatType::kJsonSchema);
  EXPECT_EQ(r.response_format.schema, J(R"({"type":"object"})"));
  EXPECT_EQ(r.response_format.name, "n");
  ChatRequest o;
  ASSERT_FALSE(Chat(R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_object"}})", &o));
  EXPECT_EQ(o.response_format.type, ResponseFormatType::kJsonObject);
}

TEST(OpenAiRequestTest, CompletionPrompts) {
  CompletionRequest r;
  ASSERT_FALSE(Completion(R"({"prompt":"hello","echo":true,"logprobs":2})", &r));
  ASSERT_EQ(r.prompts.size(), 1u);
  EXPECT_EQ(r.prompts[0].text, "hello");
  EXPECT_TRUE(r.echo);
  EXPECT_TRUE(r.logprobs);
  EXPECT_EQ(r.top_logprobs, 2);
  CompletionRequest ids;
  ASSERT_FALSE(Completion(R"({"prompt":[1,2,3]})", &ids));
  ASSERT_EQ(ids.prompts.size(), 1u);
  EXPECT_TRUE(ids.prompts[0].is_ids);
  EXPECT_EQ(ids.prompts[0].ids, (std::vector<int32_t>{1, 2, 3}));
  CompletionRequest many;
  ASSERT_FALSE(Completion(R"({"prompt":["a",[4,5],"c"]})", &many));
  EXPECT_EQ(many.prompts.size(), 3u);
  ExpectParamError(Completion(R"({})"), "prompt");
  ExpectParamError(Completion(R"({"prompt":[]})"), "prompt");
  ExpectParamError(Completion(R"({"prompt":[1,1000]})"), "prompt");
  ExpectParamError(Completion(R"({"prompt":[1,-1]})"), "prompt");
  ExpectParamError(Completion(R"({"prompt":[[]]})"), "prompt");
  ExpectParamError(Completion(R"({"prompt":[{"a":1}]})"), "prompt");
  ExpectParamError(Completion(R"({"prompt":"x","logprobs":6})"), "logprobs");
  ExpectParamError(Completion(R"({"prompt":"x","best_of":2})"), "best_of");
  ExpectParamError(Completion(R"({"prompt":5})"), "prompt");
}

TEST(OpenAiRequestTest, PythonLiterals) {
  EXPECT_EQ(PythonLiteral(J(R"({"a":[1,2.5,"q\"\n\\"],"b":{"c":null,"d":false}})")),
            "{\"a\": [1, 2.5, \"q\\\"\\n\\\\\"], \"b\": {\"c\": None, \"d\": False}}");
  EXPECT_EQ(PythonCall("pkg.f", J(R"({"x":"y","n":-3})")), "pkg.f(x=\"y\", n=-3)");
  EXPECT_EQ(PythonCall("g", Json::object()), "g()");
}

TEST(OpenAiRequestTest, ErrorBodyShape) {
  ApiError error = BadRequest("bad thing", "temperature");
  EXPECT_EQ(J(ErrorBody(error).c_str()),
            J(R"({"error":{"message":"bad thing","type":"invalid_request_error","param":"temperature","code":null}})"));
  error.param.clear();
  error.code = "x";
  EXPECT_EQ(J(ErrorBody(error).c_str())["error"]["param"], Json());
}

}  // namespace
}  // namespace lfm2::server
