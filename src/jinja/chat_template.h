// jinja/chat_template.h - the model's chat template: conversation JSON -> prompt text,
// rendered byte-identically to Hugging Face transformers' apply_chat_template (Python jinja2 in
// an ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks, loopcontrols, HF's tojson,
// raise_exception, strftime_now and {% generation %}), by our own Jinja interpreter
// (jinja/interpreter.h).
//
// Flow: model dir (chat_template.jinja, else tokenizer_config.json "chat_template") -> Load ->
// Render(messages, tools, add_generation_prompt) -> prompt text -> tokenizer (the template
// already emits BOS; tokenize without adding another).
#pragma once

#include <optional>
#include <string>

#include "base/status.h"
#include "io/json.h"
#include "jinja/interpreter.h"

namespace lfm2 {

// The special tokens HF passes to the template (tokenizer_config.json "bos_token", ...). A token
// the config does not name stays undefined in the template, as in HF.
struct ChatSpecialTokens {
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  std::optional<std::string> pad_token;
  std::optional<std::string> unk_token;
};

class ChatTemplate {
 public:
  // Loads the template of a model directory: `chat_template.jinja` if present, else the
  // "chat_template" key of tokenizer_config.json (a string, or HF's list of {name, template}, of
  // which "default" is used). Special tokens come from tokenizer_config.json (string or
  // {"content": ...} forms). Needs no config.json or weights.
  static StatusOr<ChatTemplate> Load(const std::string& model_dir);

  // Parses a template given as text; `name` prefixes error positions.
  static StatusOr<ChatTemplate> FromSource(std::string_view source, std::string name,
                                           ChatSpecialTokens tokens);

  // Renders a conversation. `messages` is a JSON array of message objects; `tools` an array of
  // tool definitions or null (the template sees None); `extra` an object of further variables
  // (e.g. {"enable_thinking": false}) that override the defaults. The template also sees
  // documents=None, bos_token/eos_token/pad_token and the raise_exception/strftime_now globals.
  // Errors (template raised, undefined misuse, limits) carry "name:line:column".
  StatusOr<std::string> Render(const Json& messages, const Json& tools, bool add_generation_prompt,
                               const Json& extra = Json::object(),
                               const jinja::RenderOptions& options = {}) const;

  const std::string& name() const { return name_; }
  const ChatSpecialTokens& special_tokens() const { return tokens_; }

 private:
  ChatTemplate(jinja::Template parsed, std::string name, ChatSpecialTokens tokens)
      : template_(std::move(parsed)), name_(std::move(name)), tokens_(std::move(tokens)) {}

  jinja::Template template_;
  std::string name_;
  ChatSpecialTokens tokens_;
};

// Reads bos/eos/pad/unk tokens from a parsed tokenizer_config.json.
StatusOr<ChatSpecialTokens> SpecialTokensFromConfig(const Json& config);

}  // namespace lfm2
