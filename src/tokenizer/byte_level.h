// tokenizer/byte_level.h - GPT-2's byte <-> character table, as HF's ByteLevel pre-tokenizer and
// decoder use it: the 188 printable bytes ('!'..'~', 0xA1..0xAC, 0xAE..0xFF) map to the code
// point of the same value, the other 68 bytes to U+0100.. in byte order (space -> U+0120 'Ġ').
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace lfm2::tokenizer {

// The UTF-8 text of the character byte `b` maps to (1 or 2 bytes).
std::string_view ByteLevelChar(uint8_t b);

// The byte a character maps back to, or -1 when `code_point` is not one of the 256 characters.
int ByteLevelByte(uint32_t code_point);

// Appends the byte-level form of `bytes` (each byte -> its character) to `out`.
void AppendByteLevel(std::string_view bytes, std::string* out);

// HF ByteLevel decoder for one token: when every character of `token` (valid UTF-8) is a
// byte-level character, appends the bytes they stand for and returns true; otherwise appends
// `token` itself unchanged and returns false (HF's fallback for e.g. added tokens with other
// characters).
bool AppendByteLevelDecoded(std::string_view token, std::string* out);

}  // namespace lfm2::tokenizer
