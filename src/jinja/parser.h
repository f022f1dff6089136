// jinja/parser.h - tokens -> statement tree, following jinja2's grammar and operator
// precedence (lowest first): `x if c else y`, or, and, not, comparisons / in / not in, + -, ~,
// * / // %, **, unary - +, then postfix (.attr [item] (call)) with filters and tests. Tags: if,
// for (else, recursive, inline if), set (incl. `ns.attr` and block set), macro, call, filter,
// with, print, raw (lexer), break/continue (loopcontrols) and generation (HF's AssistantTracker).
#pragma once

#include <vector>

#include "base/status.h"
#include "jinja/ast.h"
#include "jinja/lexer.h"

namespace lfm2::jinja {

// Parses a token stream from Tokenize(). Errors carry "name:line:column: ".
StatusOr<Body> ParseTemplate(const std::vector<Token>& tokens, const SourceMap& source);

}  // namespace lfm2::jinja
