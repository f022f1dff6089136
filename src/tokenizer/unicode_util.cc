// tokenizer/unicode_util.cc - UTF-8 validation and lossy repair (see unicode_util.h).
#include "tokenizer/unicode_util.h"

namespace lfm2::tokenizer {
namespace {

enum class SequenceKind { kValid, kInvalid, kIncomplete };

struct Sequence {
  SequenceKind kind;
  size_t length;  // kValid: the character; kInvalid: the maximal subpart; kIncomplete: bytes seen
};

// Classifies the sequence starting at bytes[pos] (pos < size) per Unicode Table 3-7.
Sequence Classify(std::string_view bytes, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(bytes[i]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) return {SequenceKind::kValid, 1};
  size_t need;
  unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return {SequenceKind::kInvalid, 1};
  }
  for (size_t k = 1; k < need; ++k) {
    if (pos + k >= bytes.size()) return {SequenceKind::kIncomplete, k};
    const unsigned char b = byte(pos + k);
    const unsigned char lo = k == 1 ? low : 0x80;
    const unsigned char hi = k == 1 ? high : 0xBF;
    if (b < lo || b > hi) return {SequenceKind::kInvalid, k};
  }
  return {SequenceKind::kValid, need};
}

// Shared loop; `hold_incomplete` decides what happens to a valid-so-far tail.
size_t AppendLossy(std::string_view bytes, std::string* out, bool hold_incomplete) {
  size_t pos = 0;
  size_t run_start = 0;  // start of the pending run of valid bytes, copied in one go
  while (pos < bytes.size()) {
    if (static_cast<unsigned char>(bytes[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const Sequence seq = Classify(bytes, pos);
    if (seq.kind == SequenceKind::kValid) {
      pos += seq.length;
      continue;
    }
    out->append(bytes.substr(run_start, pos - run_start));
    if (seq.kind == SequenceKind::kIncomplete && hold_incomplete) return pos;
    out->append(kReplacementCharacter);
    pos += seq.length;
    run_start = pos;
  }
  out->append(bytes.substr(run_start, pos - run_start));
  return pos;
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    if (static_cast<unsigned char>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const Sequence seq = Classify(text, pos);
    if (seq.kind != SequenceKind::kValid) return false;
    pos += seq.length;
  }
  return true;
}

void AppendUtf8Lossy(std::string_view bytes, std::string* out) {
  AppendLossy(bytes, out, /*hold_incomplete=*/false);
}

size_t AppendUtf8LossyPrefix(std::string_view bytes, std::string* out) {
  return AppendLossy(bytes, out, /*hold_incomplete=*/true);
}

std::string ToValidUtf8(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  AppendUtf8Lossy(text, &out);
  return out;
}

void AppendUtf8(uint32_t code_point, std::string* out) {
  if (code_point < 0x80) {
    out->push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

uint32_t DecodeUtf8(std::string_view text, size_t* pos) {
  const auto byte = [&](size_t i) {
    return static_cast<uint32_t>(static_cast<unsigned char>(text[i]));
  };
  const uint32_t lead = byte(*pos);
  const size_t length = Utf8CharLength(static_cast<unsigned char>(lead));
  if (length == 1 || *pos + length > text.size()) {
    ++*pos;
    return lead;
  }
  uint32_t code_point = lead & (0xFF >> (length + 1));
  for (size_t k = 1; k < length; ++k) code_point = (code_point << 6) | (byte(*pos + k) & 0x3F);
  *pos += length;
  return code_point;
}

}  // namespace lfm2::tokenizer
