// fuzz/fuzz_tokenizer.cc - libFuzzer target for the tokenizer's untrusted inputs: tokenizer.json
// text (parser, validation, regex translation) and arbitrary text / id sequences (encode, decode,
// streaming decode). Must never crash, leak or trip a sanitizer.
//
// Input layout:
//   '{' ... : tokenizer.json text, then a NUL byte, then text to encode (the tokenizer is cached
//             while the JSON part stays the same, so mutations of the text part run fast);
//   other   : an Oniguruma pattern, a NUL byte, then text to split with it in every behaviour.
// Seeds (tools/fuzz_seeds_fuzz_tokenizer.sh): the golden tokenizer.json + NUL + case texts, and
// tokenizer patterns + NUL + text.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/check.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode_regex.h"
#include "tokenizer/unicode_util.h"

namespace {

void FuzzTokenizer(std::string_view json, std::string_view text) {
  static std::string cached_json;
  static std::unique_ptr<lfm2::Tokenizer> cached;
  if (cached_json != json || cached_json.empty()) {
    cached_json = std::string(json);
    auto loaded = lfm2::Tokenizer::FromJsonText(json);
    cached = loaded.ok() ? std::make_unique<lfm2::Tokenizer>(std::move(loaded).value()) : nullptr;
  }
  if (cached == nullptr) return;
  const lfm2::Tokenizer& tokenizer = *cached;

  const std::vector<int32_t> ids = tokenizer.Encode(text, true);
  lfm2::EncodeOptions literal;
  literal.add_special_tokens = false;
  literal.parse_special_tokens = false;
  const std::vector<int32_t> plain = tokenizer.Encode(text, literal);
  for (int32_t id : ids) LFM2_CHECK(tokenizer.IsValidId(id));
  for (int32_t id : plain) LFM2_CHECK(tokenizer.IsValidId(id));
  const std::string decoded = tokenizer.Decode(ids);
  LFM2_CHECK(lfm2::tokenizer::IsValidUtf8(decoded));
  (void)tokenizer.Decode(ids, /*skip_special_tokens=*/true);

  // Arbitrary ids (also invalid ones) from the text bytes through the streaming decoder: every
  // chunk is valid UTF-8 and the chunks add up to Decode.
  std::vector<int32_t> random_ids;
  const int32_t limit = tokenizer.vocab_size() + 2;
  for (size_t i = 0; i + 1 < text.size(); i += 2) {
    const int32_t raw = static_cast<uint8_t>(text[i]) << 8 | static_cast<uint8_t>(text[i + 1]);
    random_ids.push_back(raw % limit - 1);
  }
  lfm2::StreamingDecoder stream(tokenizer);
  std::string joined;
  for (int32_t id : random_ids) {
    const std::string chunk = stream.Add(id);
    LFM2_CHECK(lfm2::tokenizer::IsValidUtf8(chunk));
    joined += chunk;
  }
  joined += stream.Finish();
  LFM2_CHECK(joined == tokenizer.Decode(random_ids));
}

void FuzzRegex(std::string_view pattern, std::string_view text) {
  auto regex = lfm2::tokenizer::Regex::FromOniguruma(pattern);
  if (!regex.ok()) return;
  const std::string valid = lfm2::tokenizer::ToValidUtf8(text);
  using lfm2::tokenizer::SplitBehavior;
  for (SplitBehavior behavior :
       {SplitBehavior::kRemoved, SplitBehavior::kIsolated, SplitBehavior::kMergedWithPrevious,
        SplitBehavior::kMergedWithNext, SplitBehavior::kContiguous}) {
    for (bool invert : {false, true}) {
      size_t previous_end = 0;
      for (const auto& [start, end] :
           lfm2::tokenizer::SplitByRegex(*regex, valid, behavior, invert)) {
        LFM2_CHECK(start < end && end <= valid.size() && start >= previous_end);
        previous_end = end;
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t separator = input.find('\0');
  const std::string_view head = input.substr(0, separator);
  std::string_view tail =
      separator == std::string_view::npos ? std::string_view() : input.substr(separator + 1);
  // Text lengths are capped so that one input stays well under the CI's per-input timeout even
  // with patterns that match empty strings everywhere (work is linear in the text, not bigger).
  if (!head.empty() && head.front() == '{') {
    FuzzTokenizer(head, tail.substr(0, 1 << 16));
  } else if (head.size() <= 4096) {
    FuzzRegex(head, tail.substr(0, 1 << 13));
  }
  return 0;
}
