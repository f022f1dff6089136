// tokenizer/unicode_regex.cc - compiled PCRE2 patterns and rust-onig style match iteration (see
// unicode_regex.h; the translation itself is in unicode_regex_translate.cc).
#include "tokenizer/unicode_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstdio>

#include "tokenizer/unicode_util.h"

namespace lfm2::tokenizer {
namespace {

struct MatchDataDeleter {
  void operator()(pcre2_match_data* data) const { pcre2_match_data_free(data); }
};

pcre2_match_data* ThreadMatchData() {
  thread_local std::unique_ptr<pcre2_match_data, MatchDataDeleter> data(
      pcre2_match_data_create(1, nullptr));
  return data.get();
}

}  // namespace

struct Regex::Code {
  pcre2_code* code = nullptr;
  ~Code() { pcre2_code_free(code); }
};

StatusOr<Regex> Regex::FromOniguruma(std::string_view pattern) {
  LFM2_ASSIGN_OR_RETURN(std::string translated, TranslateOnigurumaPattern(pattern));
  return Compile(std::move(translated), pattern);
}

StatusOr<Regex> Regex::FromLiteral(std::string_view text) {
  if (!IsValidUtf8(text)) return InvalidArgumentError("split string is not valid UTF-8");
  std::string pattern;
  size_t pos = 0;
  while (pos < text.size()) {
    char escaped[16];
    std::snprintf(escaped, sizeof(escaped), "\\x{%X}", DecodeUtf8(text, &pos));
    pattern += escaped;
  }
  return Compile(std::move(pattern), text);
}

StatusOr<Regex> Regex::Compile(std::string pcre2_pattern, std::string_view source) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pcre2_pattern.data()), pcre2_pattern.size(),
                    PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof(message));
    return InvalidArgumentError("regex /", source, "/: ", reinterpret_cast<const char*>(message),
                                " (PCRE2 pattern ", pcre2_pattern, ", offset ", error_offset, ")");
  }
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // the interpreter is used if JIT is unavailable
  auto owned = std::make_shared<Code>();
  owned->code = code;
  Regex regex;
  regex.code_ = std::move(owned);
  regex.pcre2_pattern_ = std::move(pcre2_pattern);
  return regex;
}

bool Regex::FindNext(std::string_view text, FindState* state, Match* match) const {
  pcre2_match_data* data = ThreadMatchData();
  LFM2_CHECK(data != nullptr);
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  while (state->last_end <= text.size()) {
    int rc = pcre2_match(code_->code, subject, text.size(), state->last_end, PCRE2_NO_UTF_CHECK,
                         data, nullptr);
    if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
      rc = pcre2_match(code_->code, subject, text.size(), state->last_end,
                       PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, data, nullptr);
    }
    const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(data);
    // No match, a matching error (rust-onig stops too), or \K games the translator refuses.
    if (rc < 0 || ovector[1] < ovector[0]) {
      state->last_end = text.size() + 1;
      return false;
    }
    const size_t start = ovector[0], end = ovector[1];
    state->last_end = end;
    if (start == end) {
      state->last_end +=
          end < text.size() ? Utf8CharLength(static_cast<unsigned char>(text[end])) : 1;
      if (state->skip_next_empty) {
        state->skip_next_empty = false;
        continue;
      }
    } else {
      state->skip_next_empty = true;
    }
    *match = Match{start, end};
    return true;
  }
  return false;
}

void Regex::FindAll(std::string_view text, std::vector<Match>* matches) const {
  FindState state;
  Match match;
  while (FindNext(text, &state, &match)) matches->push_back(match);
}

}  // namespace lfm2::tokenizer
