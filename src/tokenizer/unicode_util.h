// tokenizer/unicode_util.h - UTF-8 primitives for the tokenizer: validation, lossy repair with
// U+FFFD exactly as Rust's String::from_utf8_lossy (= Python's errors="replace"), and the
// incremental form the streaming decoder needs. No Unicode property tables live here: property
// classes are PCRE2's job (unicode_regex.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lfm2::tokenizer {

inline constexpr char kReplacementCharacter[] = "\xEF\xBF\xBD";  // U+FFFD

// True when `text` is well-formed UTF-8 (Unicode Table 3-7: no overlongs, no surrogates, nothing
// above U+10FFFF).
bool IsValidUtf8(std::string_view text);

// Appends `bytes` to `out`, replacing every maximal subpart of an ill-formed sequence with one
// U+FFFD (Unicode "substitution of maximal subparts", as from_utf8_lossy does).
void AppendUtf8Lossy(std::string_view bytes, std::string* out);

// Like AppendUtf8Lossy, but stops in front of a trailing sequence that is incomplete yet still
// valid so far (it may be completed by more bytes). Returns the number of bytes consumed; the
// caller keeps bytes[consumed..] (at most 3 bytes) for later. Feeding a byte stream in any
// chunking through this and finishing with AppendUtf8Lossy on the remainder gives exactly
// AppendUtf8Lossy of the whole stream.
size_t AppendUtf8LossyPrefix(std::string_view bytes, std::string* out);

// Returns `text` unchanged when valid, else the lossy repair.
std::string ToValidUtf8(std::string_view text);

// Appends the UTF-8 encoding of `code_point` (must be a scalar value <= U+10FFFF).
void AppendUtf8(uint32_t code_point, std::string* out);

// Decodes the character starting at `text[*pos]` of VALID UTF-8 text and advances *pos.
uint32_t DecodeUtf8(std::string_view text, size_t* pos);

// Length in bytes of the UTF-8 character whose lead byte is `lead` (1 for continuation bytes and
// invalid leads, so loops always advance).
inline size_t Utf8CharLength(unsigned char lead) {
  if (lead < 0xC0) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return lead < 0xF8 ? 4 : 1;
}

}  // namespace lfm2::tokenizer
