// tokenizer/byte_level.cc - the GPT-2 byte <-> character tables (see byte_level.h).
#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/unicode_util.h"

namespace lfm2::tokenizer {
namespace {

struct Tables {
  std::array<uint16_t, 256> code_point_of_byte;
  std::array<int16_t, 512> byte_of_code_point;  // all mapped code points are < 0x144
  std::array<std::string, 256> text_of_byte;

  Tables() {
    byte_of_code_point.fill(-1);
    auto printable = [](int b) {
      return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    };
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      const uint16_t cp =
          printable(b) ? static_cast<uint16_t>(b) : static_cast<uint16_t>(256 + next++);
      code_point_of_byte[b] = cp;
      byte_of_code_point[cp] = static_cast<int16_t>(b);
      AppendUtf8(cp, &text_of_byte[b]);
    }
  }
};

const Tables& GetTables() {
  static const Tables* tables = new Tables();
  return *tables;
}

}  // namespace

std::string_view ByteLevelChar(uint8_t b) { return GetTables().text_of_byte[b]; }

int ByteLevelByte(uint32_t code_point) {
  if (code_point >= 512) return -1;
  return GetTables().byte_of_code_point[code_point];
}

void AppendByteLevel(std::string_view bytes, std::string* out) {
  const Tables& tables = GetTables();
  for (char c : bytes) out->append(tables.text_of_byte[static_cast<uint8_t>(c)]);
}

bool AppendByteLevelDecoded(std::string_view token, std::string* out) {
  const size_t mark = out->size();
  size_t pos = 0;
  while (pos < token.size()) {
    const int b = ByteLevelByte(DecodeUtf8(token, &pos));
    if (b < 0) {
      out->resize(mark);
      out->append(token);
      return false;
    }
    out->push_back(static_cast<char>(b));
  }
  return true;
}

}  // namespace lfm2::tokenizer
