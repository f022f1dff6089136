// generate/chat_prompt.cc - control-token markers and the guarded render + tokenize.
#include "generate/chat_prompt.h"

#include <algorithm>

namespace lfm2 {
namespace {

// Markers: U+E000, the index in decimal as U+E010..U+E019, U+E001 (all private use, 3 bytes).
constexpr std::string_view kLead = "\xEE\x80\x80";
constexpr std::string_view kEnd = "\xEE\x80\x81";

void AppendMarker(size_t index, std::string* out) {
  const std::string digits = std::to_string(index);
  out->append(kLead);
  for (char digit : digits) {
    out->append("\xEE\x80");
    out->push_back(static_cast<char>(0x90 + (digit - '0')));
  }
  out->append(kEnd);
}

// Parses a marker at `text[at]`; returns its length (0 when there is none) and sets *index.
size_t ReadMarker(std::string_view text, size_t at, size_t* index) {
  if (text.substr(at, kLead.size()) != kLead) return 0;
  size_t pos = at + kLead.size();
  size_t value = 0, digits = 0;
  while (pos + 3 <= text.size() && text[pos] == '\xEE' && text[pos + 1] == '\x80' &&
         static_cast<unsigned char>(text[pos + 2]) >= 0x90 && static_cast<unsigned char>(text[pos + 2]) <= 0x99) {
    if (++digits > 9) return 0;
    value = value * 10 + (static_cast<unsigned char>(text[pos + 2]) - 0x90);
    pos += 3;
  }
  if (digits == 0 || text.substr(pos, kEnd.size()) != kEnd) return 0;
  *index = value;
  return pos + kEnd.size() - at;
}

}  // namespace

std::string ControlTokenGuard::Protect(std::string_view text) {
  const std::vector<std::pair<size_t, size_t>> specials = tokenizer_.FindSpecialTokens(text);
  std::string out;
  out.reserve(text.size());
  size_t next_special = 0, pos = 0;
  while (pos < text.size()) {
    const size_t special_at = next_special < specials.size() ? specials[next_special].first : text.size();
    const size_t lead_at = std::min(text.find(kLead, pos), text.size());
    const size_t at = std::min(special_at, lead_at);
    out.append(text.substr(pos, at - pos));
    if (at == text.size()) break;
    const size_t end = at == special_at ? specials[next_special++].second : at + kLead.size();
    AppendMarker(originals_.size(), &out);
    originals_.emplace_back(text.substr(at, end - at));
    pos = end;
    // A lead inside a special token's span was swallowed with it.
    while (next_special < specials.size() && specials[next_special].first < pos) ++next_special;
  }
  return out;
}

bool ControlTokenGuard::TextNeedsProtection(std::string_view text) const {
  return text.find(kLead) != std::string_view::npos || !tokenizer_.FindSpecialTokens(text).empty();
}

bool ControlTokenGuard::NeedsProtection(const Json& value) const {
  switch (value.type()) {
    case Json::value_t::string:
      return TextNeedsProtection(value.get_ref<const std::string&>());
    case Json::value_t::array:
      return std::any_of(value.begin(), value.end(), [this](const Json& item) { return NeedsProtection(item); });
    case Json::value_t::object:
      for (const auto& [key, item] : value.get_ref<const Json::object_t&>()) {
        if (TextNeedsProtection(key) || NeedsProtection(item)) return true;
      }
      return false;
    default:
      return false;
  }
}

void ControlTokenGuard::ProtectStrings(Json* value) {
  switch (value->type()) {
    case Json::value_t::string: {
      std::string& text = value->get_ref<std::string&>();
      if (TextNeedsProtection(text)) text = Protect(text);
      return;
    }
    case Json::value_t::array:
      for (Json& item : *value) ProtectStrings(&item);
      return;
    case Json::value_t::object: {
      Json::object_t& members = value->get_ref<Json::object_t&>();
      bool keys_change = false;
      for (auto& [key, item] : members) {
        ProtectStrings(&item);
        keys_change = keys_change || TextNeedsProtection(key);
      }
      if (!keys_change) return;
      // Keys are const in place: rebuild this object once (protection keeps keys distinct).
      Json::object_t rebuilt;
      rebuilt.reserve(members.size());
      for (auto& [key, item] : members) rebuilt.emplace_back(Protect(key), std::move(item));
      members = std::move(rebuilt);
      return;
    }
    default:
      return;
  }
}

std::string ControlTokenGuard::Restore(std::string_view rendered,
                                       std::vector<std::pair<size_t, size_t>>* plain) const {
  plain->clear();
  std::string out;
  out.reserve(rendered.size());
  size_t pos = 0;
  while (pos < rendered.size()) {
    const size_t at = rendered.find(kLead, pos);
    if (at == std::string_view::npos) {
      out.append(rendered.substr(pos));
      break;
    }
    out.append(rendered.substr(pos, at - pos));
    size_t index = 0;
    const size_t length = ReadMarker(rendered, at, &index);
    if (length == 0 || index >= originals_.size()) {
      out.append(kLead);
      pos = at + kLead.size();
      continue;
    }
    const std::string& original = originals_[index];
    if (!plain->empty() && plain->back().second == out.size()) {
      plain->back().second += original.size();  // adjacent markers: one range
    } else {
      plain->emplace_back(out.size(), out.size() + original.size());
    }
    out.append(original);
    pos = at + length;
  }
  return out;
}

StatusOr<ChatPrompt> RenderChatPrompt(const ChatTemplate& chat, const Tokenizer& tokenizer,
                                      const Json& messages, const Json& tools,
                                      bool add_generation_prompt, const ControlTokenGuard* guard,
                                      std::string_view suffix) {
  LFM2_ASSIGN_OR_RETURN(std::string rendered, chat.Render(messages, tools, add_generation_prompt));
  ChatPrompt prompt;
  EncodeOptions options;
  options.add_special_tokens = false;  // the template writes BOS itself
  std::vector<std::pair<size_t, size_t>> plain;
  if (guard != nullptr) {
    prompt.text = guard->Restore(rendered, &plain);
    options.plain_ranges = plain;
  } else {
    prompt.text = std::move(rendered);
  }
  prompt.text.append(suffix);
  prompt.ids = tokenizer.Encode(prompt.text, options);
  return prompt;
}

}  // namespace lfm2
