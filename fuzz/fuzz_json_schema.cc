// fuzz/fuzz_json_schema.cc - libFuzzer target for JSON-schema constrained decoding: arbitrary
// bytes as a schema (or as a `pattern` regex), compiled with small limits, then a walk over a
// byte-level vocabulary driven by the rest of the input. Checks the invariants the constraint
// promises: no crash or sanitizer report, Accept takes every token the mask allows, some token is
// always allowed (no dead ends), and a completed text is well-formed JSON.
//
// Input layout: [schema JSON | 'R' regex] NUL [walk bytes: each picks among the allowed tokens].
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/check.h"
#include "io/json.h"
#include "sampling/json_schema.h"

namespace {

const std::shared_ptr<const lfm2::TokenVocabulary>& Vocabulary() {
  static const auto vocab = [] {
    std::vector<std::string> tokens;
    for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
    tokens.push_back("");  // 256: stop
    tokens.push_back("");  // 257: special, never allowed
    for (const char* t : {"{\"", "\":", "\": ", ", \"", "\"}", "true", "null", "12", "\\u00",
                          "\\ud83d\\ude00", "\xC3\xA9", "\xE6\x97\xA5", "[{", "}]", "-0.", "e+"}) {
      tokens.push_back(t);
    }
    return lfm2::TokenVocabulary::Create(std::move(tokens), {256});
  }();
  return vocab;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view head = input.substr(0, nul);
  const std::string_view walk = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);
  if (head.size() > 4096) return 0;

  lfm2::Json schema;
  if (!head.empty() && head[0] == 'R') {
    schema = lfm2::Json{{"type", "string"}, {"pattern", std::string(head.substr(1))}};
  } else {
    auto parsed = lfm2::ParseJson(head, "schema");
    if (!parsed.ok()) return 0;
    schema = std::move(parsed).value();
  }
  lfm2::JsonSchemaOptions options;
  options.max_nfa_states = 1 << 16;
  options.max_dfa_states = 1 << 13;
  options.max_stack_depth = 12;
  options.max_schema_depth = 24;
  auto constraint = lfm2::JsonSchemaConstraint::Compile(schema, Vocabulary(), options);
  if (!constraint.ok()) return 0;
  lfm2::JsonSchemaConstraint& c = **constraint;
  const lfm2::TokenVocabulary& vocab = *Vocabulary();

  std::vector<int32_t> allowed;
  for (size_t step = 0; step < walk.size() && step < 512; ++step) {
    const std::vector<uint64_t>& bits = c.AllowedTokens();
    allowed.clear();
    for (int32_t id = 0; id < vocab.size(); ++id) {
      if ((bits[id >> 6] >> (id & 63)) & 1) allowed.push_back(id);
    }
    LFM2_CHECK_MSG(!allowed.empty(), "dead end: no token allowed");
    LFM2_CHECK(!c.IsAllowed(257));
    const int32_t token = allowed[static_cast<uint8_t>(walk[step]) % allowed.size()];
    LFM2_CHECK_MSG(c.Accept(token).ok(), "an allowed token was rejected");
    if (vocab.IsStop(token)) {
      LFM2_CHECK(c.Complete());
      LFM2_CHECK(lfm2::Json::accept(c.text()));
      return 0;
    }
  }
  // Close the document the shortest way, when the search finds it within a small budget.
  const auto rest = c.matcher().ShortestCompletion(300);
  if (rest.has_value()) {
    LFM2_CHECK(c.AcceptText(*rest).ok());
    LFM2_CHECK(c.Complete());
    LFM2_CHECK(lfm2::Json::accept(c.text()));
  }
  return 0;
}
