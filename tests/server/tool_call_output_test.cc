// ChatToolCalls: content and OpenAI tool_calls from a reply streamed in arbitrary pieces, the
// forced prefix of a required / named tool_choice, malformed calls returned as content, and the
// pass-through when tools are off.
#include "server/tool_call_output.h"

#include <gtest/gtest.h>

namespace lfm2::server {
namespace {

struct Split {
  std::string content;
  Json calls;
};

Split SplitReply(bool enabled, const std::string& prefix, const std::string& text, size_t piece) {
  ChatToolCalls calls(enabled, Json::array(), prefix);
  Split out;
  Json taken = Json::array();
  for (size_t at = 0; at < text.size(); at += piece) {
    out.content += calls.Add(text.substr(at, piece));
    for (Json& call : calls.TakeNewCalls()) taken.push_back(call);
  }
  out.content += calls.Finish();
  for (Json& call : calls.TakeNewCalls()) taken.push_back(call);
  EXPECT_EQ(taken, calls.calls());
  out.calls = calls.calls();
  return out;
}

TEST(ChatToolCallsTest, CallsAndContentInAnyPieces) {
  const std::string text =
      "Let me check.<|tool_call_start|>[get_weather(city=\"Paris\"), pkg.f(n=[1, {'k': None}])]"
      "<|tool_call_end|>Done.";
  for (size_t piece : {1u, 2u, 5u, 1000u}) {
    Split split = SplitReply(true, "", text, piece);
    EXPECT_EQ(split.content, "Let me check.Done.") << piece;
    ASSERT_EQ(split.calls.size(), 2u) << piece;
    EXPECT_EQ(split.calls[0]["function"]["name"], "get_weather");
    EXPECT_EQ(split.calls[0]["function"]["arguments"], "{\"city\":\"Paris\"}");
    EXPECT_EQ(split.calls[0]["type"], "function");
    EXPECT_EQ(split.calls[0]["index"], 0);
    EXPECT_EQ(split.calls[1]["function"]["name"], "pkg.f");
    EXPECT_EQ(split.calls[1]["function"]["arguments"], "{\"n\":[1,{\"k\":null}]}");
    EXPECT_EQ(split.calls[1]["index"], 1);
    EXPECT_NE(split.calls[0]["id"], split.calls[1]["id"]);
  }
}

TEST(ChatToolCallsTest, ForcedPrefix) {
  Split split = SplitReply(true, "<|tool_call_start|>[get_weather(", "city='Rome')]<|tool_call_end|>", 3);
  EXPECT_EQ(split.content, "");
  ASSERT_EQ(split.calls.size(), 1u);
  EXPECT_EQ(split.calls[0]["function"]["arguments"], "{\"city\":\"Rome\"}");
}

TEST(ChatToolCallsTest, MalformedAndUnfinishedCallsAreContent) {
  const std::string bad = "<|tool_call_start|>[get_weather(city=)]<|tool_call_end|>";
  Split malformed = SplitReply(true, "", bad, 4);
  EXPECT_EQ(malformed.content, bad);
  EXPECT_TRUE(malformed.calls.empty());
  const std::string unfinished = "ok <|tool_call_start|>[f(a=1)";
  Split cut = SplitReply(true, "", unfinished, 4);
  EXPECT_EQ(cut.content, unfinished);
  EXPECT_TRUE(cut.calls.empty());
}

TEST(ChatToolCallsTest, DisabledPassesTextThrough) {
  const std::string text = "<|tool_call_start|>[f(a=1)]<|tool_call_end|>";
  Split split = SplitReply(false, "", text, 3);
  EXPECT_EQ(split.content, text);
  EXPECT_TRUE(split.calls.empty());
}

}  // namespace
}  // namespace lfm2::server
