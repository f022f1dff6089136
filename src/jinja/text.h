// jinja/text.h - Python str semantics over UTF-8 for the template interpreter: code
// point counting, indexing and slicing, str.isspace() whitespace, case mapping and the str methods
// templates call (strip, split, replace, find, ...). Invalid UTF-8 bytes count as one code point
// each and pass through unchanged, so no input can make these functions fail.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lfm2::jinja {

// Decodes the code point at `text[*pos]` and advances *pos (an invalid byte yields 0xDC00 + byte,
// Python's surrogateescape, and advances by one).
uint32_t NextCodePoint(std::string_view text, size_t* pos);
void AppendUtf8(uint32_t code_point, std::string* out);
// Encodes back what NextCodePoint decoded (surrogateescape code points become the raw byte).
void AppendCodePoint(uint32_t code_point, std::string* out);
size_t CodePointCount(std::string_view text);
// Byte offset of every code point, plus text.size() at the end (size = count + 1).
std::vector<size_t> CodePointOffsets(std::string_view text);
bool IsAscii(std::string_view text);

// Python str.isspace() for one code point.
bool IsPySpace(uint32_t c);
// Python str.isprintable() for one code point (approximation of the Unicode tables for the
// categories Cc, Cf, Co, Cs, Zl, Zp, Zs other than U+0020, and unassigned planes).
bool IsPrintable(uint32_t c);
uint32_t ToUpper(uint32_t c);
uint32_t ToLower(uint32_t c);
bool IsAlpha(uint32_t c);   // letters with a case mapping, plus CJK and kana ranges
bool IsDigit(uint32_t c);   // ASCII and a few common digit ranges
bool IsWordChar(uint32_t c);  // regex \w: alnum or '_'

std::string Upper(std::string_view text);
std::string Lower(std::string_view text);
// Python str.title() and str.capitalize(), str.swapcase().
std::string TitleCase(std::string_view text);
std::string Capitalize(std::string_view text);
std::string SwapCase(std::string_view text);

// Python str.strip/lstrip/rstrip: `chars` null strips whitespace, else any code point in it.
std::string Strip(std::string_view text, const std::string* chars, bool left, bool right);
// Python str.split / rsplit. `separator` null splits on whitespace runs. maxsplit < 0: no limit.
// Precondition: separator, when given, is not empty (callers report ValueError).
std::vector<std::string> Split(std::string_view text, const std::string* separator,
                               int64_t maxsplit);
std::vector<std::string> RSplit(std::string_view text, const std::string* separator,
                                int64_t maxsplit);
// Python str.splitlines(keepends).
std::vector<std::string> SplitLines(std::string_view text, bool keepends);
// Python str.replace(old, new, count); count < 0 replaces all. Returns false (leaving *out
// partial) if the result would exceed max_bytes.
bool Replace(std::string_view text, std::string_view old_text, std::string_view new_text,
             int64_t count, size_t max_bytes, std::string* out);
// Python str.find / rfind / count over code points; returns -1 when absent.
int64_t Find(std::string_view text, std::string_view needle, bool reverse);
int64_t CountOccurrences(std::string_view text, std::string_view needle);
// Python str.center/ljust/rjust with a one-code-point fill.
std::string Pad(std::string_view text, int64_t width, std::string_view fill, char align);

// Python's slice index normalisation for a sequence of `length` items: fills the indices
// visited by [start:stop:step] (step != 0; absent bounds are nullopt).
std::vector<int64_t> SliceIndices(int64_t length, std::optional<int64_t> start,
                                  std::optional<int64_t> stop, int64_t step);

}  // namespace lfm2::jinja
