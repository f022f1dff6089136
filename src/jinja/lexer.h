// jinja/lexer.h - splits a Jinja template into text and tag tokens exactly as jinja2's
// lexer does under HF's settings: newlines normalised to "\n", one trailing newline dropped
// (keep_trailing_newline=False), `{%- -%}` / `{{- -}}` / `{#- -#}` whitespace control,
// trim_blocks (first newline after a block or comment tag removed) and lstrip_blocks (spaces and
// tabs from the line start up to a block or comment tag removed, never before `{{`), `{% raw %}`,
// and bracket balancing so `}}` inside `{{ {'a': {}} }}` does not end the tag.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "jinja/value.h"

namespace lfm2::jinja {

enum class TokenType : uint8_t {
  kText,
  kVariableBegin,  // {{
  kVariableEnd,    // }}
  kBlockBegin,     // {%
  kBlockEnd,       // %}
  kName,
  kString,
  kInteger,
  kFloat,
  kOperator,  // value is the operator text: "+", "//", "==", "(", ...
  kEof,
};

struct Token {
  TokenType type = TokenType::kEof;
  std::string text;  // text, name, operator, or the unescaped string literal
  Int integer = 0;
  double number = 0.0;
  uint32_t offset = 0;  // byte offset in the normalised source, for line:column
};

// Maps byte offsets of the normalised source to "name:line:column" (1-based, columns in code
// points) for error messages.
class SourceMap {
 public:
  SourceMap() = default;
  SourceMap(std::string name, std::string source);
  std::string Where(uint32_t offset) const;
  const std::string& name() const { return name_; }
  const std::string& source() const { return source_; }

 private:
  std::string name_;
  std::string source_;
  std::vector<uint32_t> line_starts_;
};

// Applies jinja2's newline normalisation and drops one trailing newline.
std::string NormalizeTemplateSource(std::string_view source);

// Tokenizes a normalised source. Errors carry "name:line:column: ".
StatusOr<std::vector<Token>> Tokenize(const SourceMap& source);

}  // namespace lfm2::jinja
