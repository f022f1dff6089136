// Stop strings across token boundaries: never emitted, nothing after them, text held back only
// while it may still start a stop string, and every split of the text gives the same output.
#include "server/stop_matcher.h"

#include <random>

#include <gtest/gtest.h>

namespace lfm2::server {
namespace {

// Feeds `pieces`; returns everything emitted (and flushed when no stop was hit).
std::string Match(std::vector<std::string> stops, const std::vector<std::string>& pieces, bool* stopped = nullptr) {
  StopMatcher matcher(std::move(stops));
  std::string out;
  for (const std::string& piece : pieces) out += matcher.Add(piece);
  out += matcher.Flush();
  if (stopped) *stopped = matcher.stopped();
  return out;
}

TEST(StopMatcherTest, NoStopsPassesThrough) {
  StopMatcher matcher({});
  EXPECT_EQ(matcher.Add("abc"), "abc");
  EXPECT_EQ(matcher.Flush(), "");
}

TEST(StopMatcherTest, StopInsideOnePiece) {
  bool stopped = false;
  EXPECT_EQ(Match({"END"}, {"hello END world"}, &stopped), "hello ");
  EXPECT_TRUE(stopped);
}

TEST(StopMatcherTest, StopAcrossPiecesIsHeldBackThenDropped) {
  StopMatcher matcher({"</stop>"});
  EXPECT_EQ(matcher.Add("text </"), "text ");
  EXPECT_EQ(matcher.held(), 2u);
  EXPECT_EQ(matcher.Add("st"), "");
  EXPECT_EQ(matcher.Add("op> more"), "");
  EXPECT_TRUE(matcher.stopped());
  EXPECT_EQ(matcher.Add("ignored"), "");
  EXPECT_EQ(matcher.Flush(), "");
}

TEST(StopMatcherTest, FalseStartIsReleased) {
  StopMatcher matcher({"</stop>"});
  EXPECT_EQ(matcher.Add("a </s"), "a ");
  EXPECT_EQ(matcher.Add("x"), "</sx");
  EXPECT_FALSE(matcher.stopped());
  EXPECT_EQ(matcher.Add("</st"), "");
  EXPECT_EQ(matcher.Flush(), "</st");  // the end of generation releases held text
}

TEST(StopMatcherTest, EarliestOfSeveralStopsWins) {
  EXPECT_EQ(Match({"bb", "a"}, {"xxbba"}), "xx");
  EXPECT_EQ(Match({"bb", "x"}, {"abbx"}), "a");
  EXPECT_EQ(Match({"", "\n\n"}, {"line\n", "\nnext"}), "line");  // empty stops ignored
}

TEST(StopMatcherTest, AnySplitGivesTheSameOutput) {
  const std::string text = "Once upon a time<|im_end|> there was\nUser: hi";
  const std::vector<std::string> stops = {"User:", "time<|im"};
  const std::string expected = Match(stops, {text});
  EXPECT_EQ(expected, "Once upon a ");
  std::mt19937 random(3);
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<std::string> pieces;
    for (size_t at = 0; at < text.size();) {
      const size_t n = std::min(text.size() - at, static_cast<size_t>(random() % 5 + 1));
      pieces.push_back(text.substr(at, n));
      at += n;
    }
    EXPECT_EQ(Match(stops, pieces), expected);
  }
}

TEST(StopMatcherTest, Utf8StaysWhole) {
  // "é" is two bytes; the held-back part is always a prefix of a stop string (whole characters).
  StopMatcher matcher({"éé!"});
  EXPECT_EQ(matcher.Add("café"), "caf");
  EXPECT_EQ(matcher.Add("é"), "");
  EXPECT_EQ(matcher.Add("?"), "éé?");
}

}  // namespace
}  // namespace lfm2::server
