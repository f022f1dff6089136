// tests/sampling/json_schema_test_util.h - vocabularies and a random-walk driver for the JSON
// constraint tests: the golden LFM2-shaped tokenizer's vocabulary, a byte-level vocabulary with
// some multi-byte tokens, and a walk that samples uniformly among the allowed tokens and, after a
// soft step budget, steers towards closing the document.
#pragma once

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "sampling/json_schema.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace lfm2::testing {

inline std::string GoldenTokenizerPath() {
  const char* shared = std::getenv("LFM2_SHARED_DIR");
  if (shared != nullptr && *shared != '\0') return std::string(shared) + "/golden/tokenizer";
#ifdef LFM2_SHARED_DIR_DEFAULT
  return std::string(LFM2_SHARED_DIR_DEFAULT) + "/golden/tokenizer";
#else
  return "/work/shared/golden/tokenizer";
#endif
}

struct TestVocabulary {
  std::shared_ptr<const TokenVocabulary> vocab;
  std::unique_ptr<Tokenizer> tokenizer;  // null for the byte vocabulary
  std::unordered_map<std::string, int32_t> ids;  // bytes -> first id with them

  std::vector<int32_t> Encode(const std::string& text) const {
    if (tokenizer != nullptr) {
      EncodeOptions options;
      options.add_special_tokens = false;
      options.parse_special_tokens = false;
      return tokenizer->Encode(text, options);
    }
    std::vector<int32_t> out;
    for (char c : text) out.push_back(static_cast<uint8_t>(c));
    return out;
  }
};

inline void IndexIds(TestVocabulary& v) {
  for (int32_t id = 0; id < v.vocab->size(); ++id) v.ids.emplace(std::string(v.vocab->bytes(id)), id);
}

// The golden tokenizer: special tokens get empty bytes; stops are <|im_end|> and <|endoftext|>.
inline const TestVocabulary& GoldenVocabulary() {
  static const TestVocabulary* golden = [] {
    auto* v = new TestVocabulary();
    auto loaded = Tokenizer::FromDirectory(GoldenTokenizerPath());
    if (!loaded.ok()) return v;
    v->tokenizer = std::make_unique<Tokenizer>(std::move(loaded).value());
    std::vector<std::string> bytes(v->tokenizer->vocab_size());
    for (int32_t id = 0; id < v->tokenizer->vocab_size(); ++id) {
      if (v->tokenizer->IsValidId(id) && !v->tokenizer->IsSpecial(id)) {
        bytes[id] = std::string(v->tokenizer->TokenBytes(id));
      }
    }
    std::vector<int32_t> stops;
    if (auto eos = v->tokenizer->eos_id()) stops.push_back(*eos);
    if (auto end = v->tokenizer->TokenToId("<|endoftext|>")) stops.push_back(*end);
    v->vocab = TokenVocabulary::Create(std::move(bytes), std::move(stops));
    IndexIds(*v);
    return v;
  }();
  return *golden;
}

// Ids 0..255: single bytes; 256: stop; 257: a special token (no bytes); then multi-byte tokens.
inline const TestVocabulary& ByteVocabulary() {
  static const TestVocabulary* bytes = [] {
    auto* v = new TestVocabulary();
    std::vector<std::string> tokens;
    for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
    tokens.push_back("");  // 256: stop
    tokens.push_back("");  // 257: special
    for (const char* t : {"{\"", "\"}", "\":", "\": ", ", \"", "\",", "true", "false", "null",
                          "12", "00", ".5", "e+", "\\n", "\\u00", "\\ud83d", "\\ude00", "\xC3\xA9",
                          "\xE6\x97\xA5\xE6\x9C\xAC", "\"name\"", " \"", "[]", "{}", "},{", "]]",
                          "-1", "ab", "abc", "@", ".com", "2024-", "T12:", "\":\"", "\"]", "\"},",
                          ", ", ":[", "\xF0\x9F\x98", "\x80\"", "0.", "1e", "\"\"", "{\"a\":"}) {
      tokens.push_back(t);
    }
    v->vocab = TokenVocabulary::Create(std::move(tokens), {256});
    IndexIds(*v);
    return v;
  }();
  return *bytes;
}

struct WalkResult {
  std::string text;
  bool complete = false;
  std::string error;
  int steps = 0;
};

inline WalkResult RandomWalk(JsonSchemaConstraint& constraint, const TestVocabulary& v,
                             uint64_t seed, int soft_steps = 40, int max_steps = 4000) {
  WalkResult result;
  Random rng(seed);
  const TokenVocabulary& vocab = *v.vocab;
  std::vector<int32_t> allowed, single_bytes;
  for (int step = 0; step < max_steps; ++step) {
    result.steps = step;
    const std::vector<uint64_t>& bits = constraint.AllowedTokens();
    allowed.clear();
    single_bytes.clear();
    for (int32_t id = 0; id < vocab.size(); ++id) {
      if ((bits[id >> 6] >> (id & 63)) & 1) {
        allowed.push_back(id);
        if (vocab.bytes(id).size() == 1) single_bytes.push_back(id);
      }
    }
    if (allowed.empty()) {
      result.error = "dead end after \"" + constraint.text() + "\"";
      return result;
    }
    int32_t pick = -1;
    const bool may_stop = constraint.Complete() && (step >= soft_steps || rng.Uniform() < 0.5);
    if (may_stop || constraint.Finished()) {
      for (int32_t id : vocab.stop_ids()) {
        if (constraint.IsAllowed(id)) pick = id;
      }
      if (pick < 0) {
        result.error = "complete but no stop token allowed";
        return result;
      }
    } else if (step >= soft_steps) {
      // Steer to the end: the next byte of the shortest completion, as a single-byte token.
      const std::optional<std::string> rest = constraint.matcher().ShortestCompletion();
      if (!rest.has_value() || rest->empty()) {
        result.error = "no completion from \"" + constraint.text() + "\"";
        return result;
      }
      auto it = v.ids.find(rest->substr(0, 1));
      if (it != v.ids.end() && constraint.IsAllowed(it->second)) pick = it->second;
    }
    if (pick < 0) pick = allowed[rng.Next() % allowed.size()];
    const Status status = constraint.Accept(pick);
    if (!status.ok()) {
      result.error = status.ToString();
      return result;
    }
    if (vocab.IsStop(pick)) {
      result.complete = true;
      result.text = constraint.text();
      return result;
    }
  }
  result.error = "no end after " + std::to_string(max_steps) + " steps: " + constraint.text();
  return result;
}

}  // namespace lfm2::testing
