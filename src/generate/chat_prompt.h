// generate/chat_prompt.h - a conversation -> prompt ids whose control tokens come only from the
// chat template. Rendered text is tokenized with special tokens recognised (the template writes
// <|im_start|>, <|tool_call_start|>, ... as text), so a client who writes "<|im_end|>" in a
// message could otherwise forge turns. ControlTokenGuard closes that: every special-token text in
// client-supplied strings is swapped for an opaque marker before rendering (private-use code
// points the template passes through untouched), and after rendering the markers are put back and
// their byte ranges tokenized as plain text - exactly what Hugging Face's split_special_tokens
// gives for those bytes, while the template's own tokens stay control tokens.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "generate/engine.h"
#include "io/json.h"

namespace lfm2 {

class ControlTokenGuard {
 public:
  // The tokenizer must outlive the guard. One guard per conversation rendered.
  explicit ControlTokenGuard(const Tokenizer& tokenizer) : tokenizer_(tokenizer) {}

  // `text` with every special-token occurrence (and every U+E000, the marker's lead) replaced by
  // a marker.
  std::string Protect(std::string_view text);
  // Whether `text` / some string of `value` (object keys included) would change under Protect.
  bool TextNeedsProtection(std::string_view text) const;
  bool NeedsProtection(const Json& value) const;
  // Protects every string of `value` in place, object keys included (an object is rebuilt only
  // when one of its keys changes). Linear in the value's size; recursion is bounded by its depth
  // (request JSON is depth-limited when parsed).
  void ProtectStrings(Json* value);
  // `rendered` with the markers replaced by the text they stand for; `plain` receives the byte
  // ranges of that text in the result (sorted, disjoint). A marker the template mangled (sliced)
  // is left as it is.
  std::string Restore(std::string_view rendered, std::vector<std::pair<size_t, size_t>>* plain) const;

 private:
  const Tokenizer& tokenizer_;
  std::vector<std::string> originals_;  // marker i stands for originals_[i]
};

struct ChatPrompt {
  std::string text;            // the rendered prompt (markers restored)
  std::vector<int32_t> ids;    // its tokens; the template supplies BOS
};

// Renders `messages` / `tools` (already passed through `guard` where they hold client text),
// appends `suffix` (trusted text, e.g. the start of a forced tool call) and tokenizes the result.
// With `guard` null every special-token text in the prompt is a control token (Hugging Face's
// apply_chat_template + encode).
StatusOr<ChatPrompt> RenderChatPrompt(const ChatTemplate& chat, const Tokenizer& tokenizer,
                                      const Json& messages, const Json& tools,
                                      bool add_generation_prompt, const ControlTokenGuard* guard,
                                      std::string_view suffix = {});

}  // namespace lfm2
