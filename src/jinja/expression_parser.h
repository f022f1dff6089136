// jinja/expression_parser.h - the expression half of the template parser (internal to
// parser.cc): token cursor helpers and jinja2's expression grammar, lowest precedence first:
// `x if c else y`, or, and, not, comparisons / in / not in, + -, ~, * / // %, **, unary - +, then
// postfix (.attr [item] [a:b:c] (call)) with filters `|f(...)` and tests `is [not] t(...)`.
// Every node gets its depth; trees deeper than kMaxAstDepth are rejected.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "jinja/ast.h"
#include "jinja/lexer.h"

namespace lfm2::jinja {

using ExprPtr = std::unique_ptr<Expr>;

class ExpressionParser {
 public:
  ExpressionParser(const std::vector<Token>& tokens, const SourceMap& source)
      : tokens_(tokens), source_(source) {}

  // ---- token helpers ----
  const Token& Current() const { return tokens_[pos_]; }
  const Token& Peek() const { return tokens_[std::min(pos_ + 1, tokens_.size() - 1)]; }
  void Advance() {
    if (pos_ + 1 < tokens_.size()) ++pos_;
  }
  bool IsOp(const Token& token, std::string_view op) const {
    return token.type == TokenType::kOperator && token.text == op;
  }
  bool IsName(const Token& token, std::string_view name) const {
    return token.type == TokenType::kName && token.text == name;
  }
  bool SkipOp(std::string_view op) {
    if (!IsOp(Current(), op)) return false;
    Advance();
    return true;
  }
  bool SkipName(std::string_view name) {
    if (!IsName(Current(), name)) return false;
    Advance();
    return true;
  }

  static std::string Describe(const Token& token);

  Status Fail(const Token& token, const std::string& message) const {
    return FailAt(token.offset, message);
  }
  Status FailAt(uint32_t offset, const std::string& message) const {
    return InvalidArgumentError(source_.Where(offset), ": ", message);
  }
  Status Expected(const std::string& what) const {
    return Fail(Current(), "expected " + what + ", got " + Describe(Current()));
  }
  Status ExpectOp(std::string_view op) {
    if (!SkipOp(op)) return Expected(StrCat("'", op, "'"));
    return Status::Ok();
  }
  Status ExpectType(TokenType type, const char* what) {
    if (Current().type != type) return Expected(what);
    Advance();
    return Status::Ok();
  }
  StatusOr<std::string> ExpectName();

  ExprPtr NewExpr(ExprKind kind, uint32_t offset);
  // Computes the depth of a finished node and enforces kMaxAstDepth.
  StatusOr<ExprPtr> Finish(ExprPtr expr);

  // ---- grammar (one function per precedence level, as in jinja2) ----
  bool IsTupleEnd(const std::vector<std::string>& extra_end_names) const;
  // Expressions separated by commas form a tuple; `simplified` parses primaries only (targets).
  StatusOr<ExprPtr> ParseTuple(bool simplified, bool with_condexpr,
                               const std::vector<std::string>& extra_end_names,
                               bool explicit_parentheses);
  StatusOr<ExprPtr> ParseExpression(bool with_condexpr);
  StatusOr<ExprPtr> ParseCondExpr();
  StatusOr<ExprPtr> Binary(ExprKind kind, std::string name, ExprPtr left, ExprPtr right);
  StatusOr<ExprPtr> ParseOr();
  StatusOr<ExprPtr> ParseAnd();
  StatusOr<ExprPtr> ParseNot();
  StatusOr<ExprPtr> ParseCompare();
  StatusOr<ExprPtr> ParseMath1();   // + -
  StatusOr<ExprPtr> ParseConcat();  // ~
  StatusOr<ExprPtr> ParseMath2();   // * / // %
  StatusOr<ExprPtr> ParsePow();     // ** (left-associative, as in jinja2)
  StatusOr<ExprPtr> ParseUnary(bool with_filter);
  StatusOr<ExprPtr> ParsePrimary();
  StatusOr<ExprPtr> ParseCollection(bool is_dict);
  StatusOr<ExprPtr> ParsePostfix(ExprPtr node);
  StatusOr<ExprPtr> ParseFilterExpr(ExprPtr node);
  StatusOr<ExprPtr> ParseSubscript(ExprPtr node);
  // One subscript argument: an expression or a slice `a:b:c` (returned as a kSlice node whose
  // children[0], the sliced object, is filled in by the caller).
  StatusOr<ExprPtr> ParseSubscribed(const ExprPtr& object);
  Status ParseCallArgs(Expr* node);
  StatusOr<ExprPtr> ParseCall(ExprPtr callee);
  StatusOr<std::string> ParseDottedName();
  StatusOr<ExprPtr> ParseFilter(ExprPtr node, bool start_inline);
  StatusOr<ExprPtr> ParseTest(ExprPtr node);

 protected:
  const std::vector<Token>& tokens_;
  const SourceMap& source_;
  size_t pos_ = 0;
  int expression_depth_ = 0;
};

}  // namespace lfm2::jinja
