// sampling/json_regex.h - string languages for JSON-schema constraints, as code point NFAs: the
// `pattern` regex subset, the supported `format`s, and key sets for additionalProperties. The
// schema compiler emits them as JSON string bodies (json_grammar.h, EmitJsonString).
//
// Regex subset (ECMA-262 syntax, as JSON Schema specifies): literals (any Unicode), `.`, classes
// `[a-z0-9_]` / `[^...]` with ranges and escapes, `\d \D \w \W \s \S` (ASCII \d and \w, as ECMA
// without the u flag), `\t \n \r \f \v \0 \xHH \uHHHH \cX` and escaped punctuation, groups
// `(...)`, `(?:...)`, `(?<name>...)`, alternation `|`, quantifiers `? * + {n} {n,} {n,m}` (lazy
// `?` suffix accepted, same language), anchors `^` at the start and `$` at the end of a top-level
// alternative. Unanchored ends match any text, as JSON Schema's search semantics say.
// Refused with a Status: backreferences, lookaround, word boundaries, `\p{...}`, flags,
// anchors elsewhere, counts above 1000, groups nested deeper than 64.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "sampling/json_grammar.h"

namespace lfm2::json_grammar {

// Limits the NFA a pattern may compile to.
inline constexpr int kMaxRegexStates = 1 << 16;

// The strings `pattern` matches somewhere (search semantics), as a whole-string NFA.
StatusOr<CharNfa> CompileRegex(std::string_view pattern);

// The strings of a JSON Schema `format`: date, time, date-time, uuid, email, ipv4, hostname.
// NotFound for other formats. Each is a strict subset of the RFC syntax (no leap seconds, no
// 29 February, lower-case 'T'/'Z' not produced, simple email local parts).
StatusOr<CharNfa> CompileFormat(std::string_view format);

// Every string.
CharNfa AnyString();

// Every string except the given ones (UTF-8; invalid sequences are compared as U+FFFD).
CharNfa AnyStringExcept(const std::vector<std::string>& excluded);

// Decodes UTF-8 into code points; false on ill-formed input.
bool DecodeUtf8(std::string_view text, std::vector<uint32_t>* out);

}  // namespace lfm2::json_grammar
