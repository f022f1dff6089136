// jinja/text.cc - Python str semantics over UTF-8 (see text.h).
#include "jinja/text.h"

#include <algorithm>
#include <cstring>

namespace lfm2::jinja {
namespace {

struct Range {
  uint32_t first;
  uint32_t last;
};

bool InRanges(uint32_t c, const Range* ranges, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    if (c >= ranges[i].first && c <= ranges[i].last) return true;
  }
  return false;
}

// Upper <-> lower pairs where upper = lower - delta over a contiguous range.
struct CaseBlock {
  uint32_t upper_first;
  uint32_t upper_last;
  uint32_t lower_first;
};
constexpr CaseBlock kCaseBlocks[] = {
    {0x41, 0x5A, 0x61},       {0xC0, 0xD6, 0xE0},       {0xD8, 0xDE, 0xF8},
    {0x391, 0x3A1, 0x3B1},    {0x3A3, 0x3AB, 0x3C3},    {0x388, 0x38A, 0x3AD},
    {0x410, 0x42F, 0x430},    {0x400, 0x40F, 0x450},    {0x531, 0x556, 0x561},
    {0x10A0, 0x10C5, 0x2D00}, {0x24B6, 0x24CF, 0x24D0}, {0xFF21, 0xFF3A, 0xFF41},
    {0x2C00, 0x2C2F, 0x2C30},
};
// Ranges where even code points are upper case and the next odd one its lower case.
constexpr Range kEvenOddPairs[] = {
    {0x100, 0x12F}, {0x132, 0x137}, {0x14A, 0x177}, {0x182, 0x185}, {0x1A0, 0x1A5},
    {0x1DE, 0x1EF}, {0x1F8, 0x21F}, {0x222, 0x233}, {0x246, 0x24F}, {0x3D8, 0x3EF},
    {0x460, 0x481}, {0x48A, 0x4BF}, {0x4D0, 0x52F}, {0x1E00, 0x1E95}, {0x1EA0, 0x1EFF},
    {0x2C80, 0x2CE3}, {0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA72F}, {0xA732, 0xA76F},
};
// Ranges where odd code points are upper case and the next even one its lower case.
constexpr Range kOddEvenPairs[] = {
    {0x139, 0x148}, {0x179, 0x17E}, {0x4C1, 0x4CE}, {0x1CD, 0x1DC},
};

}  // namespace

uint32_t NextCodePoint(std::string_view text, size_t* pos) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const size_t size = text.size();
  size_t i = *pos;
  const unsigned char lead = bytes[i];
  if (lead < 0x80) {
    *pos = i + 1;
    return lead;
  }
  int length = 0;
  uint32_t code = 0;
  uint32_t minimum = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2, code = lead & 0x1F, minimum = 0x80;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3, code = lead & 0x0F, minimum = 0x800;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4, code = lead & 0x07, minimum = 0x10000;
  }
  if (length == 0 || i + length > size) {
    *pos = i + 1;
    return 0xDC00 + lead;
  }
  for (int k = 1; k < length; ++k) {
    const unsigned char next = bytes[i + k];
    if ((next & 0xC0) != 0x80) {
      *pos = i + 1;
      return 0xDC00 + lead;
    }
    code = (code << 6) | (next & 0x3F);
  }
  if (code < minimum || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) {
    *pos = i + 1;
    return 0xDC00 + lead;
  }
  *pos = i + length;
  return code;
}

void AppendUtf8(uint32_t c, std::string* out) {
  if (c < 0x80) {
    out->push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (c >> 6)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (c >> 12)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    if (c > 0x10FFFF) c = 0xFFFD;
    out->push_back(static_cast<char>(0xF0 | (c >> 18)));
    out->push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

void AppendCodePoint(uint32_t c, std::string* out) {
  if (c >= 0xDC80 && c <= 0xDCFF) {
    out->push_back(static_cast<char>(c - 0xDC00));
  } else {
    AppendUtf8(c, out);
  }
}

size_t CodePointCount(std::string_view text) {
  size_t count = 0;
  for (size_t pos = 0; pos < text.size(); ++count) NextCodePoint(text, &pos);
  return count;
}

std::vector<size_t> CodePointOffsets(std::string_view text) {
  std::vector<size_t> offsets;
  offsets.reserve(text.size() + 1);
  size_t pos = 0;
  while (pos < text.size()) {
    offsets.push_back(pos);
    NextCodePoint(text, &pos);
  }
  offsets.push_back(text.size());
  return offsets;
}

bool IsAscii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

bool IsPySpace(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
         c == 0x202F || c == 0x205F || c == 0x3000;
}

bool IsPrintable(uint32_t c) {
  static constexpr Range kNonPrintable[] = {
      {0x00, 0x1F},       {0x7F, 0xA0},       {0xAD, 0xAD},       {0x600, 0x605},
      {0x61C, 0x61C},     {0x6DD, 0x6DD},     {0x70F, 0x70F},     {0x890, 0x891},
      {0x8E2, 0x8E2},     {0x1680, 0x1680},   {0x180E, 0x180E},   {0x2000, 0x200F},
      {0x2028, 0x202F},   {0x205F, 0x2064},   {0x2066, 0x206F},   {0x3000, 0x3000},
      {0xD800, 0xF8FF},   {0xFDD0, 0xFDEF},   {0xFEFF, 0xFEFF},   {0xFFF0, 0xFFFB},
      {0xFFFE, 0xFFFF},   {0x110BD, 0x110BD}, {0x110CD, 0x110CD}, {0x13430, 0x1343F},
      {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, {0x2FFFE, 0x2FFFF}, {0x3FFFE, 0xE00FF},
      {0xE01F0, 0x10FFFF},
  };
  return !InRanges(c, kNonPrintable, std::size(kNonPrintable));
}

uint32_t ToLower(uint32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  for (const CaseBlock& block : kCaseBlocks) {
    if (c >= block.upper_first && c <= block.upper_last) return c - block.upper_first + block.lower_first;
  }
  if (InRanges(c, kEvenOddPairs, std::size(kEvenOddPairs))) return (c % 2 == 0) ? c + 1 : c;
  if (InRanges(c, kOddEvenPairs, std::size(kOddEvenPairs))) return (c % 2 == 1) ? c + 1 : c;
  switch (c) {
    case 0x130: return 0x69;
    case 0x178: return 0xFF;
    case 0x386: return 0x3AC;
    case 0x38C: return 0x3CC;
    case 0x38E: return 0x3CD;
    case 0x38F: return 0x3CE;
    case 0x1E9E: return 0xDF;
    default: return c;
  }
}

uint32_t ToUpper(uint32_t c) {
  if (c < 0x80) return (c >= 'a' && c <= 'z') ? c - 32 : c;
  for (const CaseBlock& block : kCaseBlocks) {
    const uint32_t lower_last = block.lower_first + (block.upper_last - block.upper_first);
    if (c >= block.lower_first && c <= lower_last) return c - block.lower_first + block.upper_first;
  }
  if (InRanges(c - 1, kEvenOddPairs, std::size(kEvenOddPairs)) && c % 2 == 1) return c - 1;
  if (InRanges(c - 1, kOddEvenPairs, std::size(kOddEvenPairs)) && c % 2 == 0) return c - 1;
  switch (c) {
    case 0xB5: return 0x39C;
    case 0xFF: return 0x178;
    case 0x131: return 0x49;
    case 0x3C2: return 0x3A3;
    case 0x3AC: return 0x386;
    case 0x3CC: return 0x38C;
    case 0x3CD: return 0x38E;
    case 0x3CE: return 0x38F;
    default: return c;
  }
}

namespace {
bool IsCased(uint32_t c) { return ToUpper(c) != c || ToLower(c) != c; }
}  // namespace

bool IsAlpha(uint32_t c) {
  if (c < 0x80) return (c | 32) >= 'a' && (c | 32) <= 'z';
  static constexpr Range kLetters[] = {
      {0xAA, 0xAA},     {0xB5, 0xB5},     {0xBA, 0xBA},     {0xC0, 0xD6},     {0xD8, 0xF6},
      {0xF8, 0x2C1},    {0x370, 0x3FF},   {0x400, 0x52F},   {0x531, 0x587},   {0x5D0, 0x5EA},
      {0x620, 0x64A},   {0x904, 0x939},   {0xE01, 0xE30},   {0x10A0, 0x10FF}, {0x1100, 0x11FF},
      {0x1E00, 0x1FFF}, {0x3041, 0x3096}, {0x30A1, 0x30FA}, {0x3400, 0x4DBF}, {0x4E00, 0x9FFF},
      {0xAC00, 0xD7A3}, {0xF900, 0xFAFF}, {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A}, {0x20000, 0x2FA1F},
  };
  return InRanges(c, kLetters, std::size(kLetters));
}

bool IsDigit(uint32_t c) {
  return (c >= '0' && c <= '9') || (c >= 0x660 && c <= 0x669) || (c >= 0x966 && c <= 0x96F) ||
         (c >= 0xFF10 && c <= 0xFF19);
}

bool IsWordChar(uint32_t c) { return c == '_' || IsAlpha(c) || IsDigit(c); }

namespace {
template <typename F>
std::string MapCodePoints(std::string_view text, F&& f) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) AppendCodePoint(f(NextCodePoint(text, &pos)), &out);
  return out;
}
}  // namespace

std::string Upper(std::string_view text) {
  return MapCodePoints(text, [](uint32_t c) { return ToUpper(c); });
}
std::string Lower(std::string_view text) {
  return MapCodePoints(text, [](uint32_t c) { return ToLower(c); });
}
std::string SwapCase(std::string_view text) {
  return MapCodePoints(text, [](uint32_t c) {
    const uint32_t upper = ToUpper(c);
    return upper != c ? upper : ToLower(c);
  });
}

std::string TitleCase(std::string_view text) {
  bool previous_cased = false;
  return MapCodePoints(text, [&](uint32_t c) {
    if (IsCased(c)) {
      const uint32_t mapped = previous_cased ? ToLower(c) : ToUpper(c);
      previous_cased = true;
      return mapped;
    }
    previous_cased = false;
    return c;
  });
}

std::string Capitalize(std::string_view text) {
  bool first = true;
  return MapCodePoints(text, [&](uint32_t c) {
    const uint32_t mapped = first ? ToUpper(c) : ToLower(c);
    first = false;
    return mapped;
  });
}

std::string Strip(std::string_view text, const std::string* chars, bool left, bool right) {
  std::vector<uint32_t> set;
  if (chars != nullptr) {
    for (size_t pos = 0; pos < chars->size();) set.push_back(NextCodePoint(*chars, &pos));
  }
  auto strippable = [&](uint32_t c) {
    return chars == nullptr ? IsPySpace(c) : std::find(set.begin(), set.end(), c) != set.end();
  };
  const std::vector<size_t> offsets = CodePointOffsets(text);
  size_t begin = 0;
  size_t end = offsets.size() - 1;  // code point indices [begin, end)
  auto at = [&](size_t index) {
    size_t pos = offsets[index];
    return NextCodePoint(text, &pos);
  };
  if (left) {
    while (begin < end && strippable(at(begin))) ++begin;
  }
  if (right) {
    while (end > begin && strippable(at(end - 1))) --end;
  }
  return std::string(text.substr(offsets[begin], offsets[end] - offsets[begin]));
}

namespace {
// Whitespace-run split from the left (Python's split_whitespace).
std::vector<std::string> SplitWhitespace(std::string_view text, int64_t maxsplit) {
  std::vector<std::string> parts;
  size_t pos = 0;
  auto skip_space = [&]() {
    while (pos < text.size()) {
      size_t next = pos;
      if (!IsPySpace(NextCodePoint(text, &next))) break;
      pos = next;
    }
  };
  while (true) {
    skip_space();
    if (pos >= text.size()) break;
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
      parts.emplace_back(text.substr(pos));
      break;
    }
    const size_t start = pos;
    while (pos < text.size()) {
      size_t next = pos;
      if (IsPySpace(NextCodePoint(text, &next))) break;
      pos = next;
    }
    parts.emplace_back(text.substr(start, pos - start));
  }
  return parts;
}
}  // namespace

std::vector<std::string> Split(std::string_view text, const std::string* separator,
                               int64_t maxsplit) {
  if (separator == nullptr) return SplitWhitespace(text, maxsplit);
  std::vector<std::string> parts;
  size_t start = 0;
  while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
    const size_t found = text.find(*separator, start);
    if (found == std::string_view::npos) break;
    parts.emplace_back(text.substr(start, found - start));
    start = found + separator->size();
  }
  parts.emplace_back(text.substr(start));
  return parts;
}

std::vector<std::string> RSplit(std::string_view text, const std::string* separator,
                                int64_t maxsplit) {
  std::vector<std::string> parts;
  if (separator == nullptr) {
    // Walk code points from the right over whitespace runs.
    const std::vector<size_t> offsets = CodePointOffsets(text);
    auto space_at = [&](size_t index) {
      size_t pos = offsets[index];
      return IsPySpace(NextCodePoint(text, &pos));
    };
    size_t end = offsets.size() - 1;
    while (true) {
      while (end > 0 && space_at(end - 1)) --end;
      if (end == 0) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
        parts.emplace_back(text.substr(0, offsets[end]));
        break;
      }
      size_t begin = end;
      while (begin > 0 && !space_at(begin - 1)) --begin;
      parts.emplace_back(text.substr(offsets[begin], offsets[end] - offsets[begin]));
      end = begin;
    }
  } else {
    size_t end = text.size();
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
      if (end < separator->size()) break;
      const size_t found = text.rfind(*separator, end - separator->size());
      if (found == std::string_view::npos) break;
      parts.emplace_back(text.substr(found + separator->size(), end - found - separator->size()));
      end = found;
    }
    parts.emplace_back(text.substr(0, end));
  }
  std::reverse(parts.begin(), parts.end());
  return parts;
}

std::vector<std::string> SplitLines(std::string_view text, bool keepends) {
  std::vector<std::string> lines;
  size_t start = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t here = pos;
    const uint32_t c = NextCodePoint(text, &pos);
    const bool is_break = c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x1C ||
                          c == 0x1D || c == 0x1E || c == 0x85 || c == 0x2028 || c == 0x2029;
    if (!is_break) continue;
    if (c == '\r' && pos < text.size() && text[pos] == '\n') ++pos;
    lines.emplace_back(text.substr(start, (keepends ? pos : here) - start));
    start = pos;
  }
  if (start < text.size()) lines.emplace_back(text.substr(start));
  return lines;
}

bool Replace(std::string_view text, std::string_view old_text, std::string_view new_text,
             int64_t count, size_t max_bytes, std::string* out) {
  out->clear();
  int64_t done = 0;
  if (old_text.empty()) {
    size_t pos = 0;
    while (true) {
      if (count < 0 || done < count) {
        out->append(new_text);
        ++done;
      }
      if (out->size() > max_bytes) return false;
      if (pos >= text.size()) break;
      const size_t start = pos;
      NextCodePoint(text, &pos);
      out->append(text.substr(start, pos - start));
    }
    return out->size() <= max_bytes;
  }
  size_t start = 0;
  while (count < 0 || done < count) {
    const size_t found = text.find(old_text, start);
    if (found == std::string_view::npos) break;
    out->append(text.substr(start, found - start));
    out->append(new_text);
    if (out->size() > max_bytes) return false;
    start = found + old_text.size();
    ++done;
  }
  out->append(text.substr(start));
  return out->size() <= max_bytes;
}

int64_t Find(std::string_view text, std::string_view needle, bool reverse) {
  const size_t found = reverse ? text.rfind(needle) : text.find(needle);
  if (found == std::string_view::npos) return -1;
  return static_cast<int64_t>(CodePointCount(text.substr(0, found)));
}

int64_t CountOccurrences(std::string_view text, std::string_view needle) {
  if (needle.empty()) return static_cast<int64_t>(CodePointCount(text)) + 1;
  int64_t count = 0;
  for (size_t pos = text.find(needle); pos != std::string_view::npos;
       pos = text.find(needle, pos + needle.size())) {
    ++count;
  }
  return count;
}

std::string Pad(std::string_view text, int64_t width, std::string_view fill, char align) {
  const int64_t length = static_cast<int64_t>(CodePointCount(text));
  if (width <= length) return std::string(text);
  const int64_t margin = width - length;
  int64_t left = 0;
  if (align == '^') {
    left = margin / 2 + (margin & width & 1);
  } else if (align == '>') {
    left = margin;
  }
  std::string out;
  for (int64_t i = 0; i < left; ++i) out.append(fill);
  out.append(text);
  for (int64_t i = 0; i < margin - left; ++i) out.append(fill);
  return out;
}

std::vector<int64_t> SliceIndices(int64_t length, std::optional<int64_t> start,
                                  std::optional<int64_t> stop, int64_t step) {
  auto clamp = [&](std::optional<int64_t> index, int64_t fallback, int64_t low, int64_t high) {
    if (!index) return fallback;
    int64_t value = *index;
    if (value < 0) value += length;
    return std::clamp(value, low, high);
  };
  std::vector<int64_t> indices;
  if (step > 0) {
    const int64_t first = clamp(start, 0, 0, length);
    const int64_t last = clamp(stop, length, 0, length);
    for (int64_t i = first; i < last;) {
      indices.push_back(i);
      if (last - i <= step) break;
      i += step;
    }
  } else {
    const int64_t first = clamp(start, length - 1, -1, length - 1);
    const int64_t last = clamp(stop, -1, -1, length - 1);
    for (int64_t i = first; i > last;) {
      indices.push_back(i);
      if (step < -(int64_t{1} << 62) || i - last <= -step) break;
      i += step;
    }
  }
  return indices;
}

}  // namespace lfm2::jinja
