// jinja/expression_parser.cc - jinja2's expression grammar (see
// expression_parser.h), mirroring jinja2/parser.py.
#include "jinja/expression_parser.h"

#include <algorithm>

namespace lfm2::jinja {

std::string ExpressionParser::Describe(const Token& token) {
  switch (token.type) {
    case TokenType::kText: return "template data";
    case TokenType::kVariableBegin: return "begin of print statement";
    case TokenType::kVariableEnd: return "end of print statement";
    case TokenType::kBlockBegin: return "begin of statement block";
    case TokenType::kBlockEnd: return "end of statement block";
    case TokenType::kName:
    case TokenType::kOperator: return "'" + token.text + "'";
    case TokenType::kString: return "string";
    case TokenType::kInteger: return "integer";
    case TokenType::kFloat: return "float";
    case TokenType::kEof: return "end of template";
  }
  return "token";
}

StatusOr<std::string> ExpressionParser::ExpectName() {
  if (Current().type != TokenType::kName) return Expected("a name");
  std::string name = Current().text;
  Advance();
  return name;
}

ExprPtr ExpressionParser::NewExpr(ExprKind kind, uint32_t offset) {
  auto expr = std::make_unique<Expr>();
  expr->kind = kind;
  expr->offset = offset;
  return expr;
}

StatusOr<ExprPtr> ExpressionParser::Finish(ExprPtr expr) {
  uint32_t depth = 0;
  auto visit = [&](const ExprPtr& child) {
    if (child) depth = std::max(depth, child->depth);
  };
  for (const auto& child : expr->children) visit(child);
  for (const auto& child : expr->args) visit(child);
  for (const auto& [name, child] : expr->kwargs) visit(child);
  visit(expr->star_args);
  visit(expr->star_kwargs);
  expr->depth = depth + 1;
  if (expr->depth > kMaxAstDepth) {
    return FailAt(expr->offset, StrCat("expression nested deeper than ", kMaxAstDepth, " levels"));
  }
  return expr;
}

bool ExpressionParser::IsTupleEnd(const std::vector<std::string>& extra_end_names) const {
  const Token& token = Current();
  if (token.type == TokenType::kVariableEnd || token.type == TokenType::kBlockEnd ||
      token.type == TokenType::kEof || IsOp(token, ")")) {
    return true;
  }
  return token.type == TokenType::kName &&
         std::find(extra_end_names.begin(), extra_end_names.end(), token.text) !=
             extra_end_names.end();
}

StatusOr<ExprPtr> ExpressionParser::ParseTuple(bool simplified, bool with_condexpr, const std::vector<std::string>& extra_end_names, bool explicit_parentheses) {
  const uint32_t offset = Current().offset;
  std::vector<ExprPtr> items;
  bool is_tuple = false;
  while (true) {
    if (!items.empty()) LFM2_RETURN_IF_ERROR(ExpectOp(","));
    if (IsTupleEnd(extra_end_names)) break;
    ExprPtr item;
    if (simplified) {
      LFM2_ASSIGN_OR_RETURN(item, ParsePrimary());
    } else {
      LFM2_ASSIGN_OR_RETURN(item, ParseExpression(with_condexpr));
    }
    items.push_back(std::move(item));
    if (!IsOp(Current(), ",")) break;
    is_tuple = true;
  }
  if (!is_tuple) {
    if (!items.empty()) return std::move(items[0]);
    if (!explicit_parentheses) return Expected("an expression");
  }
  ExprPtr tuple = NewExpr(ExprKind::kTuple, offset);
  tuple->children = std::move(items);
  return Finish(std::move(tuple));
}

StatusOr<ExprPtr> ExpressionParser::ParseExpression(bool with_condexpr) {
  if (++expression_depth_ > kMaxAstDepth) {
    return Fail(Current(), StrCat("expression nested deeper than ", kMaxAstDepth, " levels"));
  }
  StatusOr<ExprPtr> result = with_condexpr ? ParseCondExpr() : ParseOr();
  --expression_depth_;
  return result;
}

StatusOr<ExprPtr> ExpressionParser::ParseCondExpr() {
  const uint32_t offset = Current().offset;
  LFM2_ASSIGN_OR_RETURN(ExprPtr expr, ParseOr());
  while (SkipName("if")) {
    ExprPtr node = NewExpr(ExprKind::kCondition, offset);
    LFM2_ASSIGN_OR_RETURN(ExprPtr test, ParseOr());
    ExprPtr otherwise;
    if (SkipName("else")) {
      LFM2_ASSIGN_OR_RETURN(otherwise, ParseExpression(true));
    }
    node->children.push_back(std::move(test));
    node->children.push_back(std::move(expr));
    node->children.push_back(std::move(otherwise));
    LFM2_ASSIGN_OR_RETURN(expr, Finish(std::move(node)));
  }
  return expr;
}

StatusOr<ExprPtr> ExpressionParser::Binary(ExprKind kind, std::string name, ExprPtr left, ExprPtr right) {
  ExprPtr node = NewExpr(kind, left->offset);
  node->name = std::move(name);
  node->children.push_back(std::move(left));
  node->children.push_back(std::move(right));
  return Finish(std::move(node));
}

StatusOr<ExprPtr> ExpressionParser::ParseOr() {
  LFM2_ASSIGN_OR_RETURN(ExprPtr left, ParseAnd());
  while (SkipName("or")) {
    LFM2_ASSIGN_OR_RETURN(ExprPtr right, ParseAnd());
    LFM2_ASSIGN_OR_RETURN(left, Binary(ExprKind::kOr, "or", std::move(left), std::move(right)));
  }
  return left;
}

StatusOr<ExprPtr> ExpressionParser::ParseAnd() {
  LFM2_ASSIGN_OR_RETURN(ExprPtr left, ParseNot());
  while (SkipName("and")) {
    LFM2_ASSIGN_OR_RETURN(ExprPtr right, ParseNot());
    LFM2_ASSIGN_OR_RETURN(left, Binary(ExprKind::kAnd, "and", std::move(left), std::move(right)));
  }
  return left;
}

StatusOr<ExprPtr> ExpressionParser::ParseNot() {
  if (IsName(Current(), "not")) {
    const uint32_t offset = Current().offset;
    Advance();
    if (++expression_depth_ > kMaxAstDepth) return Fail(Current(), "expression nested too deeply");
    StatusOr<ExprPtr> operand = ParseNot();
    --expression_depth_;
    if (!operand.ok()) return operand;
    ExprPtr node = NewExpr(ExprKind::kNot, offset);
    node->children.push_back(std::move(operand).value());
    return Finish(std::move(node));
  }
  return ParseCompare();
}

StatusOr<ExprPtr> ExpressionParser::ParseCompare() {
  LFM2_ASSIGN_OR_RETURN(ExprPtr first, ParseMath1());
  ExprPtr node;
  while (true) {
    std::string op;
    const Token& token = Current();
    if (token.type == TokenType::kOperator &&
        (token.text == "==" || token.text == "!=" || token.text == "<" || token.text == "<=" ||
         token.text == ">" || token.text == ">=")) {
      op = token.text;
      Advance();
    } else if (IsName(token, "in")) {
      op = "in";
      Advance();
    } else if (IsName(token, "not") && IsName(Peek(), "in")) {
      op = "not in";
      Advance();
      Advance();
    } else {
      break;
    }
    if (!node) {
      node = NewExpr(ExprKind::kCompare, first->offset);
      node->children.push_back(std::move(first));
    }
    LFM2_ASSIGN_OR_RETURN(ExprPtr operand, ParseMath1());
    node->ops.push_back(op);
    node->children.push_back(std::move(operand));
  }
  if (!node) return first;
  return Finish(std::move(node));
}

StatusOr<ExprPtr> ExpressionParser::ParseMath1() {
  LFM2_ASSIGN_OR_RETURN(ExprPtr left, ParseConcat());
  while (IsOp(Current(), "+") || IsOp(Current(), "-")) {
    const std::string op = Current().text;
    Advance();
    LFM2_ASSIGN_OR_RETURN(ExprPtr right, ParseConcat());
    LFM2_ASSIGN_OR_RETURN(left, Binary(ExprKind::kBinary, op, std::move(left), std::move(right)));
  }
  return left;
}

StatusOr<ExprPtr> ExpressionParser::ParseConcat() {
  LFM2_ASSIGN_OR_RETURN(ExprPtr first, ParseMath2());
  if (!IsOp(Current(), "~")) return first;
  ExprPtr node = NewExpr(ExprKind::kConcat, first->offset);
  node->children.push_back(std::move(first));
  while (SkipOp("~")) {
    LFM2_ASSIGN_OR_RETURN(ExprPtr next, ParseMath2());
    node->children.push_back(std::move(next));
  }
  return Finish(std::move(node));
}

StatusOr<ExprPtr> ExpressionParser::ParseMath2() {
  LFM2_ASSIGN_OR_RETURN(ExprPtr left, ParsePow());
  while (IsOp(Current(), "*") || IsOp(Current(), "/") || IsOp(Current(), "//") ||
         IsOp(Current(), "%")) {
    const std::string op = Current().text;
    Advance();
    LFM2_ASSIGN_OR_RETURN(ExprPtr right, ParsePow());
    LFM2_ASSIGN_OR_RETURN(left, Binary(ExprKind::kBinary, op, std::move(left), std::move(right)));
  }
  return left;
}

StatusOr<ExprPtr> ExpressionParser::ParsePow() {
  LFM2_ASSIGN_OR_RETURN(ExprPtr left, ParseUnary(true));
  while (SkipOp("**")) {
    LFM2_ASSIGN_OR_RETURN(ExprPtr right, ParseUnary(true));
    LFM2_ASSIGN_OR_RETURN(left, Binary(ExprKind::kBinary, "**", std::move(left), std::move(right)));
  }
  return left;
}

StatusOr<ExprPtr> ExpressionParser::ParseUnary(bool with_filter) {
  ExprPtr node;
  if (IsOp(Current(), "-") || IsOp(Current(), "+")) {
    node = NewExpr(ExprKind::kUnary, Current().offset);
    node->name = Current().text;
    Advance();
    if (++expression_depth_ > kMaxAstDepth) return Fail(Current(), "expression nested too deeply");
    StatusOr<ExprPtr> operand = ParseUnary(false);
    --expression_depth_;
    if (!operand.ok()) return operand;
    node->children.push_back(std::move(operand).value());
    LFM2_ASSIGN_OR_RETURN(node, Finish(std::move(node)));
  } else {
    LFM2_ASSIGN_OR_RETURN(node, ParsePrimary());
  }
  LFM2_ASSIGN_OR_RETURN(node, ParsePostfix(std::move(node)));
  if (with_filter) {
    LFM2_ASSIGN_OR_RETURN(node, ParseFilterExpr(std::move(node)));
  }
  return node;
}

StatusOr<ExprPtr> ExpressionParser::ParsePrimary() {
  const Token& token = Current();
  ExprPtr node;
  switch (token.type) {
    case TokenType::kName: {
      node = NewExpr(ExprKind::kLiteral, token.offset);
      if (token.text == "true" || token.text == "True") {
        node->literal = Value::Bool(true);
      } else if (token.text == "false" || token.text == "False") {
        node->literal = Value::Bool(false);
      } else if (token.text == "none" || token.text == "None") {
        node->literal = Value::None();
      } else {
        node->kind = ExprKind::kName;
        node->name = token.text;
      }
      Advance();
      return node;
    }
    case TokenType::kString: {
      node = NewExpr(ExprKind::kLiteral, token.offset);
      std::string text;
      while (Current().type == TokenType::kString) {
        text += Current().text;
        Advance();
      }
      node->literal = Value::String(std::move(text));
      return node;
    }
    case TokenType::kInteger:
      node = NewExpr(ExprKind::kLiteral, token.offset);
      node->literal = Value::Integer(token.integer);
      Advance();
      return node;
    case TokenType::kFloat:
      node = NewExpr(ExprKind::kLiteral, token.offset);
      node->literal = Value::Float(token.number);
      Advance();
      return node;
    case TokenType::kOperator:
      if (token.text == "(") {
        Advance();
        LFM2_ASSIGN_OR_RETURN(node, ParseTuple(false, true, {}, true));
        LFM2_RETURN_IF_ERROR(ExpectOp(")"));
        return node;
      }
      if (token.text == "[" || token.text == "{") return ParseCollection(token.text == "{");
      break;
    default:
      break;
  }
  return Fail(token, "unexpected " + Describe(token));
}

StatusOr<ExprPtr> ExpressionParser::ParseCollection(bool is_dict) {
  ExprPtr node = NewExpr(is_dict ? ExprKind::kDict : ExprKind::kList, Current().offset);
  Advance();
  const char* close = is_dict ? "}" : "]";
  while (!IsOp(Current(), close)) {
    if (!node->children.empty()) LFM2_RETURN_IF_ERROR(ExpectOp(","));
    if (IsOp(Current(), close)) break;
    LFM2_ASSIGN_OR_RETURN(ExprPtr item, ParseExpression(true));
    node->children.push_back(std::move(item));
    if (is_dict) {
      LFM2_RETURN_IF_ERROR(ExpectOp(":"));
      LFM2_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression(true));
      node->children.push_back(std::move(value));
    }
  }
  LFM2_RETURN_IF_ERROR(ExpectOp(close));
  return Finish(std::move(node));
}

StatusOr<ExprPtr> ExpressionParser::ParsePostfix(ExprPtr node) {
  while (true) {
    if (IsOp(Current(), ".") || IsOp(Current(), "[")) {
      LFM2_ASSIGN_OR_RETURN(node, ParseSubscript(std::move(node)));
    } else if (IsOp(Current(), "(")) {
      LFM2_ASSIGN_OR_RETURN(node, ParseCall(std::move(node)));
    } else {
      return node;
    }
  }
}

StatusOr<ExprPtr> ExpressionParser::ParseFilterExpr(ExprPtr node) {
  while (true) {
    if (IsOp(Current(), "|")) {
      LFM2_ASSIGN_OR_RETURN(node, ParseFilter(std::move(node), false));
    } else if (IsName(Current(), "is")) {
      LFM2_ASSIGN_OR_RETURN(node, ParseTest(std::move(node)));
    } else if (IsOp(Current(), "(")) {
      LFM2_ASSIGN_OR_RETURN(node, ParseCall(std::move(node)));
    } else {
      return node;
    }
  }
}

StatusOr<ExprPtr> ExpressionParser::ParseSubscript(ExprPtr node) {
  const Token& token = Current();
  const uint32_t offset = token.offset;
  if (IsOp(token, ".")) {
    Advance();
    const Token& attribute = Current();
    if (attribute.type == TokenType::kName) {
      ExprPtr access = NewExpr(ExprKind::kGetAttr, offset);
      access->name = attribute.text;
      access->children.push_back(std::move(node));
      Advance();
      return Finish(std::move(access));
    }
    if (attribute.type != TokenType::kInteger) return Fail(attribute, "expected name or number");
    ExprPtr index = NewExpr(ExprKind::kLiteral, attribute.offset);
    index->literal = Value::Integer(attribute.integer);
    Advance();
    ExprPtr access = NewExpr(ExprKind::kGetItem, offset);
    access->children.push_back(std::move(node));
    access->children.push_back(std::move(index));
    return Finish(std::move(access));
  }
  Advance();  // '['
  std::vector<ExprPtr> args;
  while (!IsOp(Current(), "]")) {
    if (!args.empty()) LFM2_RETURN_IF_ERROR(ExpectOp(","));
    LFM2_ASSIGN_OR_RETURN(ExprPtr arg, ParseSubscribed(node));
    args.push_back(std::move(arg));
  }
  LFM2_RETURN_IF_ERROR(ExpectOp("]"));
  if (args.empty()) return FailAt(offset, "expected subscript expression");
  if (args.size() == 1 && args[0]->kind == ExprKind::kSlice && args[0]->children[0] == nullptr) {
    args[0]->children[0] = std::move(node);
    return Finish(std::move(args[0]));
  }
  ExprPtr access = NewExpr(ExprKind::kGetItem, offset);
  access->children.push_back(std::move(node));
  if (args.size() == 1) {
    access->children.push_back(std::move(args[0]));
  } else {
    for (const auto& arg : args) {
      if (arg->kind == ExprKind::kSlice) return FailAt(arg->offset, "slices inside tuples are not supported");
    }
    ExprPtr tuple = NewExpr(ExprKind::kTuple, offset);
    tuple->children = std::move(args);
    LFM2_ASSIGN_OR_RETURN(tuple, Finish(std::move(tuple)));
    access->children.push_back(std::move(tuple));
  }
  return Finish(std::move(access));
}

StatusOr<ExprPtr> ExpressionParser::ParseSubscribed(const ExprPtr& /*object*/) {
  const uint32_t offset = Current().offset;
  ExprPtr start;
  if (!IsOp(Current(), ":")) {
    LFM2_ASSIGN_OR_RETURN(start, ParseExpression(true));
    if (!IsOp(Current(), ":")) return start;
  }
  Advance();  // ':'
  ExprPtr stop, step;
  if (!IsOp(Current(), ":") && !IsOp(Current(), "]") && !IsOp(Current(), ",")) {
    LFM2_ASSIGN_OR_RETURN(stop, ParseExpression(true));
  }
  if (SkipOp(":")) {
    if (!IsOp(Current(), "]") && !IsOp(Current(), ",")) {
      LFM2_ASSIGN_OR_RETURN(step, ParseExpression(true));
    }
  }
  ExprPtr slice = NewExpr(ExprKind::kSlice, offset);
  slice->children.push_back(nullptr);
  slice->children.push_back(std::move(start));
  slice->children.push_back(std::move(stop));
  slice->children.push_back(std::move(step));
  return slice;
}

Status ExpressionParser::ParseCallArgs(Expr* node) {
  const Token& open = Current();
  LFM2_RETURN_IF_ERROR(ExpectOp("("));
  bool require_comma = false;
  auto ensure = [&](bool ok) -> Status {
    if (!ok) return Fail(open, "invalid syntax for function call expression");
    return Status::Ok();
  };
  while (!IsOp(Current(), ")")) {
    if (require_comma) {
      LFM2_RETURN_IF_ERROR(ExpectOp(","));
      if (IsOp(Current(), ")")) break;
    }
    if (SkipOp("*")) {
      LFM2_RETURN_IF_ERROR(ensure(!node->star_args && !node->star_kwargs));
      LFM2_ASSIGN_OR_RETURN(node->star_args, ParseExpression(true));
    } else if (SkipOp("**")) {
      LFM2_RETURN_IF_ERROR(ensure(!node->star_kwargs));
      LFM2_ASSIGN_OR_RETURN(node->star_kwargs, ParseExpression(true));
    } else if (Current().type == TokenType::kName && IsOp(Peek(), "=")) {
      LFM2_RETURN_IF_ERROR(ensure(!node->star_kwargs));
      std::string key = Current().text;
      Advance();
      Advance();
      LFM2_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression(true));
      node->kwargs.emplace_back(std::move(key), std::move(value));
    } else {
      LFM2_RETURN_IF_ERROR(
          ensure(!node->star_args && !node->star_kwargs && node->kwargs.empty()));
      LFM2_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression(true));
      node->args.push_back(std::move(value));
    }
    require_comma = true;
  }
  return ExpectOp(")");
}

StatusOr<ExprPtr> ExpressionParser::ParseCall(ExprPtr callee) {
  ExprPtr node = NewExpr(ExprKind::kCall, callee->offset);
  node->children.push_back(std::move(callee));
  LFM2_RETURN_IF_ERROR(ParseCallArgs(node.get()));
  return Finish(std::move(node));
}

StatusOr<std::string> ExpressionParser::ParseDottedName() {
  LFM2_ASSIGN_OR_RETURN(std::string name, ExpectName());
  while (SkipOp(".")) {
    LFM2_ASSIGN_OR_RETURN(std::string part, ExpectName());
    name += "." + part;
  }
  return name;
}

StatusOr<ExprPtr> ExpressionParser::ParseFilter(ExprPtr node, bool start_inline) {
  while (IsOp(Current(), "|") || start_inline) {
    if (!start_inline) Advance();
    start_inline = false;
    ExprPtr filter = NewExpr(ExprKind::kFilter, Current().offset);
    LFM2_ASSIGN_OR_RETURN(filter->name, ParseDottedName());
    if (IsOp(Current(), "(")) LFM2_RETURN_IF_ERROR(ParseCallArgs(filter.get()));
    filter->children.push_back(std::move(node));
    LFM2_ASSIGN_OR_RETURN(node, Finish(std::move(filter)));
  }
  return node;
}

StatusOr<ExprPtr> ExpressionParser::ParseTest(ExprPtr node) {
  const uint32_t offset = Current().offset;
  Advance();  // 'is'
  ExprPtr test = NewExpr(ExprKind::kTest, offset);
  test->negated = SkipName("not");
  LFM2_ASSIGN_OR_RETURN(test->name, ParseDottedName());
  const Token& token = Current();
  if (IsOp(token, "(")) {
    LFM2_RETURN_IF_ERROR(ParseCallArgs(test.get()));
  } else if ((token.type == TokenType::kName || token.type == TokenType::kString ||
              token.type == TokenType::kInteger || token.type == TokenType::kFloat ||
              IsOp(token, "[") || IsOp(token, "{")) &&
             !IsName(token, "else") && !IsName(token, "or") && !IsName(token, "and")) {
    if (IsName(token, "is")) return Fail(token, "You cannot chain multiple tests with is");
    LFM2_ASSIGN_OR_RETURN(ExprPtr arg, ParsePrimary());
    LFM2_ASSIGN_OR_RETURN(arg, ParsePostfix(std::move(arg)));
    test->args.push_back(std::move(arg));
  }
  test->children.push_back(std::move(node));
  return Finish(std::move(test));
}

}  // namespace lfm2::jinja
