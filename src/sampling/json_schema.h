// sampling/json_schema.h - token-level constrained decoding for JSON output (OpenAI
// response_format json_object / json_schema). A schema compiles once into an automaton
// (CompileJsonSchema, shareable across requests); a JsonSchemaConstraint runs it for one
// generation: Mask before each sampling step (tokens that cannot extend the text into a prefix of
// a valid document get -inf), Accept after it. Stop tokens are allowed only once the document is
// complete, and then nothing else is; special tokens (empty bytes) are never allowed.
//
// What is generated - a subset of the documents the schema accepts, always valid:
//   * Whitespace: none, except at most one ' ' after ',' and ':' (option). No leading/trailing
//     whitespace, so the model cannot loop on whitespace.
//   * Objects: declared properties in schema order; required ones always, optional ones may be
//     skipped. Without additionalProperties, an object with properties/required gets no other keys
//     (valid either way); `true` or a schema allows extra keys after the declared ones, any key
//     except the declared names (extra keys may repeat, which JSON permits). An object schema with
//     neither properties nor additionalProperties is any object.
//   * Numbers: at most max_integer_digits / max_fraction_digits / max_exponent_digits digits; no
//     exponent when bounded. Integers never carry a fraction. Number bounds must be integers.
//   * Strings: generic strings allow every JSON escape; strings with pattern/format are written
//     with literal characters and only the escapes JSON requires. Lengths count code points.
//   * oneOf is treated as anyOf: the output matches at least one alternative (disjoint
//     alternatives - the usual case - make this exact). allOf is merged (objects: properties
//     united, additionalProperties respected; bounds tightened; enums intersected).
//   * $ref: local ("#", "#/$defs/x", "#/definitions/x", any "#/json/pointer"), recursive refs
//     included; nesting is bounded by max_stack_depth (also for generic JSON values).
//   * Untyped schemas generate the types their keywords talk about (all types if none).
// Supported keywords: type (incl. arrays), enum, const, properties, required,
// additionalProperties, items, prefixItems, additionalItems (with array-form items), minItems,
// maxItems, anyOf, oneOf, allOf, $ref, $defs/definitions, minimum, maximum, exclusiveMinimum,
// exclusiveMaximum, minLength, maxLength, pattern (subset, json_regex.h), format (date, time,
// date-time, uuid, email, ipv4, hostname; int32/int64/float/double annotate numbers), nullable
// (OpenAPI). Ignored annotations: title, description, examples, example, default, $schema, $id,
// $comment, $anchor, deprecated, readOnly, writeOnly, contentMediaType, contentEncoding,
// discriminator, x-*. Trivial forms are accepted (uniqueItems: false, minProperties: 0).
// Anything else (patternProperties, propertyNames, not, if/then/else, multipleOf, uniqueItems:
// true, contains, min/maxProperties, dependentRequired, unevaluated*, remote $ref, ...) is refused
// with a Status naming the keyword and its JSON pointer.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "io/json.h"
#include "sampling/json_grammar.h"
#include "sampling/json_matcher.h"
#include "sampling/json_vocabulary.h"
#include "sampling/sampler.h"

namespace lfm2 {

struct JsonSchemaOptions {
  // Allow one ' ' after ',' and ':' (models like `{"a": 1, "b": 2}`); no other whitespace.
  bool space_after_separators = true;
  int max_integer_digits = 16;
  int max_fraction_digits = 16;
  int max_exponent_digits = 2;  // |exponent| <= 99: every number fits a double
  // Nesting of $ref calls and generic JSON containers at generation time.
  int max_stack_depth = 32;
  // Nesting of the schema document.
  int max_schema_depth = 64;
  // Automaton size limits (memory: roughly 100 bytes per NFA state during compilation; the DFA
  // table is states x byte classes x 4 bytes, capped at 32 MiB).
  int64_t max_nfa_states = 1 << 19;
  int64_t max_dfa_states = 1 << 17;
  // Treat unknown string formats as annotations (JSON Schema 2020-12's default) instead of
  // refusing the schema.
  bool ignore_unknown_formats = false;
};

using JsonGrammarPtr = std::shared_ptr<const json_grammar::JsonGrammar>;

// Compiles `schema` (a JSON object or boolean). Errors: InvalidArgument for malformed schemas,
// Unsupported for keywords or features we do not implement and for schemas beyond the limits.
StatusOr<JsonGrammarPtr> CompileJsonSchema(const Json& schema, const JsonSchemaOptions& options = {});
// response_format {"type": "json_object"}: any JSON object.
StatusOr<JsonGrammarPtr> CompileJsonObjectGrammar(const JsonSchemaOptions& options = {});

class JsonSchemaConstraint final : public TokenConstraint {
 public:
  static StatusOr<std::unique_ptr<JsonSchemaConstraint>> Compile(
      const Json& schema, std::shared_ptr<const TokenVocabulary> vocab,
      const JsonSchemaOptions& options = {});
  static StatusOr<std::unique_ptr<JsonSchemaConstraint>> AnyObject(
      std::shared_ptr<const TokenVocabulary> vocab, const JsonSchemaOptions& options = {});

  JsonSchemaConstraint(JsonGrammarPtr grammar, std::shared_ptr<const TokenVocabulary> vocab);

  // TokenConstraint: logits of disallowed ids (and of ids >= vocabulary size) become -inf.
  void Mask(std::span<float> logits) override;
  // InvalidArgument (state unchanged) when the token may not come next.
  Status Accept(int32_t token) override;
  bool Complete() const override { return matcher_.complete(); }

  // Complete and nothing but a stop token may follow.
  bool Finished() const { return matcher_.complete() && !matcher_.can_continue(); }
  bool IsAllowed(int32_t token);
  // The allowed-token bitset (bit i of word i / 64), as Mask applies it.
  const std::vector<uint64_t>& AllowedTokens() { return matcher_.Allowed(); }
  // Advances by raw text (e.g. a forced prefix); InvalidArgument when it leaves the language.
  Status AcceptText(std::string_view text);
  void Reset();
  // The bytes accepted so far.
  const std::string& text() const { return text_; }
  json_grammar::GrammarMatcher& matcher() { return matcher_; }

 private:
  std::shared_ptr<const TokenVocabulary> vocab_;
  json_grammar::GrammarMatcher matcher_;
  std::string text_;
};

}  // namespace lfm2
