// jinja/parser.cc - the statement half of the recursive-descent parser (tags, bodies,
// assignment targets), mirroring jinja2/parser.py; expressions are in expression_parser.cc.
#include "jinja/parser.h"

#include <algorithm>
#include <initializer_list>

#include "jinja/expression_parser.h"

namespace lfm2::jinja {
namespace {

// An open block: the tags that may end its body, for "expected 'endif', got 'endfor'".
struct OpenBlock {
  std::vector<std::string> end_names;
  std::string tag;
  uint32_t offset;
};

class Parser : public ExpressionParser {
 public:
  Parser(const std::vector<Token>& tokens, const SourceMap& source)
      : ExpressionParser(tokens, source) {}

  StatusOr<Body> Run() {
    LFM2_ASSIGN_OR_RETURN(Body body, Subparse({}));
    if (Current().type != TokenType::kEof) return Fail(Current(), "unexpected token");
    return body;
  }

 private:
  // ---- statements ----

  // Parses template data and tags until a block tag whose name is in `end_names` (left as the
  // current token) or the end of input (an error when end_names is not empty).
  StatusOr<Body> Subparse(const std::vector<std::string>& end_names) {
    Body body;
    while (true) {
      const Token& token = Current();
      if (token.type == TokenType::kEof) {
        if (!end_names.empty()) {
          const OpenBlock& open = open_blocks_.back();
          return Fail(token, StrCat("unexpected end of template, expected '", PrimaryEnd(open),
                                    "' to close '", open.tag, "' opened at ",
                                    Position(open.offset)));
        }
        return body;
      }
      if (token.type == TokenType::kText) {
        auto stmt = std::make_unique<Stmt>();
        stmt->kind = StmtKind::kText;
        stmt->offset = token.offset;
        stmt->text = token.text;
        body.push_back(std::move(stmt));
        Advance();
      } else if (token.type == TokenType::kVariableBegin) {
        Advance();
        auto stmt = std::make_unique<Stmt>();
        stmt->kind = StmtKind::kOutput;
        stmt->offset = token.offset;
        LFM2_ASSIGN_OR_RETURN(stmt->expr, ParseTuple(false, true, {}, false));
        LFM2_RETURN_IF_ERROR(ExpectType(TokenType::kVariableEnd, "'}}'"));
        body.push_back(std::move(stmt));
      } else if (token.type == TokenType::kBlockBegin) {
        Advance();
        if (Current().type == TokenType::kName &&
            std::find(end_names.begin(), end_names.end(), Current().text) != end_names.end()) {
          return body;
        }
        LFM2_ASSIGN_OR_RETURN(auto stmt, ParseStatement());
        if (stmt) body.push_back(std::move(stmt));
        LFM2_RETURN_IF_ERROR(ExpectType(TokenType::kBlockEnd, "end of statement block ('%}')"));
      } else {
        return Fail(token, "unexpected " + Describe(token));
      }
    }
  }

  static std::string PrimaryEnd(const OpenBlock& open) {
    for (const std::string& name : open.end_names) {
      if (name.rfind("end", 0) == 0) return name;
    }
    return open.end_names.back();
  }
  std::string Position(uint32_t offset) const {
    const std::string where = source_.Where(offset);  // "name:line:col"
    const size_t colon = where.rfind(':', where.rfind(':') - 1);
    return where.substr(colon + 1);
  }

  // Parses the body of a block tag: `%}` then statements up to one of `end_names`; leaves the
  // matched end name as the current token (skipped when drop_needle).
  StatusOr<Body> ParseBody(const std::string& tag, uint32_t offset, std::vector<std::string> end_names, bool drop_needle) {
    SkipOp(":");
    LFM2_RETURN_IF_ERROR(ExpectType(TokenType::kBlockEnd, "end of statement block ('%}')"));
    if (open_blocks_.size() >= kMaxAstDepth) return FailAt(offset, "blocks nested too deeply");
    open_blocks_.push_back({end_names, tag, offset});
    StatusOr<Body> body = Subparse(end_names);
    open_blocks_.pop_back();
    if (!body.ok()) return body;
    if (drop_needle) Advance();
    return body;
  }

  StatusOr<std::unique_ptr<Stmt>> ParseStatement() {
    const Token& token = Current();
    if (token.type != TokenType::kName) return Fail(token, "tag name expected");
    const std::string tag = token.text;
    auto stmt = std::make_unique<Stmt>();
    stmt->offset = token.offset;
    if (tag == "if") return ParseIf(std::move(stmt));
    if (tag == "for") return ParseFor(std::move(stmt));
    if (tag == "set") return ParseSet(std::move(stmt));
    if (tag == "macro") return ParseMacro(std::move(stmt));
    if (tag == "call") return ParseCallBlock(std::move(stmt));
    if (tag == "filter") {
      Advance();
      stmt->kind = StmtKind::kFilterBlock;
      LFM2_ASSIGN_OR_RETURN(stmt->expr, ParseFilter(nullptr, true));
      stmt->bodies.emplace_back();
      LFM2_ASSIGN_OR_RETURN(stmt->bodies[0], ParseBody(tag, stmt->offset, {"endfilter"}, true));
      return stmt;
    }
    if (tag == "with") return ParseWith(std::move(stmt));
    if (tag == "print") {
      Advance();
      stmt->kind = StmtKind::kOutput;
      LFM2_ASSIGN_OR_RETURN(stmt->expr, ParseTuple(false, true, {}, false));
      return stmt;
    }
    if (tag == "generation") {
      Advance();
      stmt->kind = StmtKind::kScope;
      stmt->bodies.emplace_back();
      LFM2_ASSIGN_OR_RETURN(stmt->bodies[0], ParseBody(tag, stmt->offset, {"endgeneration"}, true));
      return stmt;
    }
    if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) return Fail(token, "'" + tag + "' outside loop");
      Advance();
      stmt->kind = tag == "break" ? StmtKind::kBreak : StmtKind::kContinue;
      return stmt;
    }
    if (tag == "block" || tag == "extends" || tag == "include" || tag == "import" ||
        tag == "from" || tag == "autoescape") {
      return Fail(token, "tag '" + tag + "' is not supported in chat templates");
    }
    for (auto it = open_blocks_.rbegin(); it != open_blocks_.rend(); ++it) {
      if (std::find(it->end_names.begin(), it->end_names.end(), tag) != it->end_names.end()) {
        const OpenBlock& open = open_blocks_.back();
        return Fail(token, StrCat("expected '", PrimaryEnd(open), "', got '", tag, "' ('",
                                  open.tag, "' opened at ", Position(open.offset), ")"));
      }
    }
    if (!open_blocks_.empty()) {
      const OpenBlock& open = open_blocks_.back();
      return Fail(token, StrCat("unknown tag '", tag, "' (expected '", PrimaryEnd(open), "' to close '",
                                open.tag, "' opened at ", Position(open.offset), ")"));
    }
    return Fail(token, "unknown tag '" + tag + "'");
  }

  StatusOr<std::unique_ptr<Stmt>> ParseIf(std::unique_ptr<Stmt> stmt) {
    stmt->kind = StmtKind::kIf;
    Advance();
    while (true) {
      LFM2_ASSIGN_OR_RETURN(auto condition, ParseTuple(false, false, {}, false));
      stmt->conditions.push_back(std::move(condition));
      LFM2_ASSIGN_OR_RETURN(Body body,
                            ParseBody("if", stmt->offset, {"elif", "else", "endif"}, false));
      stmt->bodies.push_back(std::move(body));
      const std::string end = Current().text;
      Advance();
      if (end == "elif") continue;
      if (end == "else") {
        LFM2_ASSIGN_OR_RETURN(Body else_body, ParseBody("if", stmt->offset, {"endif"}, true));
        stmt->bodies.push_back(std::move(else_body));
      }
      return stmt;
    }
  }

  StatusOr<std::unique_ptr<Stmt>> ParseFor(std::unique_ptr<Stmt> stmt) {
    stmt->kind = StmtKind::kFor;
    Advance();
    LFM2_ASSIGN_OR_RETURN(stmt->target, ParseAssignTarget(false, {"in"}));
    if (!SkipName("in")) return Expected("'in'");
    LFM2_ASSIGN_OR_RETURN(stmt->expr, ParseTuple(false, false, {"recursive"}, false));
    if (SkipName("if")) {
      LFM2_ASSIGN_OR_RETURN(stmt->filter, ParseExpression(true));
    }
    stmt->recursive = SkipName("recursive");
    ++loop_depth_;
    StatusOr<Body> body = ParseBody("for", stmt->offset, {"endfor", "else"}, false);
    --loop_depth_;
    if (!body.ok()) return body.status();
    stmt->bodies.push_back(std::move(body).value());
    const std::string end = Current().text;
    Advance();
    if (end == "else") {
      LFM2_ASSIGN_OR_RETURN(Body else_body, ParseBody("for", stmt->offset, {"endfor"}, true));
      stmt->bodies.push_back(std::move(else_body));
    }
    return stmt;
  }

  StatusOr<std::unique_ptr<Stmt>> ParseSet(std::unique_ptr<Stmt> stmt) {
    Advance();
    LFM2_ASSIGN_OR_RETURN(stmt->target, ParseAssignTarget(true, {}));
    if (SkipOp("=")) {
      stmt->kind = StmtKind::kSet;
      LFM2_ASSIGN_OR_RETURN(stmt->expr, ParseTuple(false, true, {}, false));
      return stmt;
    }
    stmt->kind = StmtKind::kSetBlock;
    if (IsOp(Current(), "|")) {
      LFM2_ASSIGN_OR_RETURN(stmt->filter, ParseFilter(nullptr, false));
    }
    stmt->bodies.emplace_back();
    LFM2_ASSIGN_OR_RETURN(stmt->bodies[0], ParseBody("set", stmt->offset, {"endset"}, true));
    return stmt;
  }

  StatusOr<std::unique_ptr<Stmt>> ParseMacro(std::unique_ptr<Stmt> stmt) {
    stmt->kind = StmtKind::kMacro;
    Advance();
    LFM2_ASSIGN_OR_RETURN(stmt->macro.name, ExpectName());
    LFM2_RETURN_IF_ERROR(ParseSignature(&stmt->macro));
    const int saved_loop_depth = loop_depth_;
    loop_depth_ = 0;
    StatusOr<Body> body = ParseBody("macro", stmt->offset, {"endmacro"}, true);
    loop_depth_ = saved_loop_depth;
    if (!body.ok()) return body.status();
    stmt->bodies.push_back(std::move(body).value());
    ScanSpecialNames(stmt->bodies[0], &stmt->macro);
    return stmt;
  }

  StatusOr<std::unique_ptr<Stmt>> ParseCallBlock(std::unique_ptr<Stmt> stmt) {
    stmt->kind = StmtKind::kCallBlock;
    Advance();
    stmt->macro.name = "caller";
    if (IsOp(Current(), "(")) LFM2_RETURN_IF_ERROR(ParseSignature(&stmt->macro));
    LFM2_ASSIGN_OR_RETURN(stmt->expr, ParseExpression(true));
    if (stmt->expr->kind != ExprKind::kCall) return FailAt(stmt->offset, "expected call");
    const int saved_loop_depth = loop_depth_;
    loop_depth_ = 0;
    StatusOr<Body> body = ParseBody("call", stmt->offset, {"endcall"}, true);
    loop_depth_ = saved_loop_depth;
    if (!body.ok()) return body.status();
    stmt->bodies.push_back(std::move(body).value());
    ScanSpecialNames(stmt->bodies[0], &stmt->macro);
    return stmt;
  }

  StatusOr<std::unique_ptr<Stmt>> ParseWith(std::unique_ptr<Stmt> stmt) {
    stmt->kind = StmtKind::kWith;
    Advance();
    while (Current().type != TokenType::kBlockEnd) {
      if (!stmt->targets.empty()) LFM2_RETURN_IF_ERROR(ExpectOp(","));
      LFM2_ASSIGN_OR_RETURN(Target target, ParseAssignTarget(false, {}));
      stmt->targets.push_back(std::move(target));
      LFM2_RETURN_IF_ERROR(ExpectOp("="));
      LFM2_ASSIGN_OR_RETURN(auto value, ParseExpression(true));
      stmt->conditions.push_back(std::move(value));
    }
    stmt->bodies.emplace_back();
    LFM2_ASSIGN_OR_RETURN(stmt->bodies[0], ParseBody("with", stmt->offset, {"endwith"}, true));
    return stmt;
  }

  Status ParseSignature(MacroSignature* signature) {
    LFM2_RETURN_IF_ERROR(ExpectOp("("));
    while (!IsOp(Current(), ")")) {
      if (!signature->params.empty()) LFM2_RETURN_IF_ERROR(ExpectOp(","));
      LFM2_ASSIGN_OR_RETURN(std::string param, ExpectName());
      ExprPtr default_value;
      if (SkipOp("=")) {
        LFM2_ASSIGN_OR_RETURN(default_value, ParseExpression(true));
      } else if (!signature->defaults.empty() && signature->defaults.back()) {
        return Fail(Current(), "non-default argument follows default argument");
      }
      signature->params.push_back(std::move(param));
      signature->defaults.push_back(std::move(default_value));
    }
    return ExpectOp(")");
  }

  // Records whether a macro body mentions caller / varargs / kwargs (jinja2 decides the
  // macro's calling convention from that).
  static void ScanExpr(const Expr* expr, MacroSignature* signature) {
    if (expr == nullptr) return;
    if (expr->kind == ExprKind::kName) {
      if (expr->name == "caller") signature->uses_caller = true;
      if (expr->name == "varargs") signature->uses_varargs = true;
      if (expr->name == "kwargs") signature->uses_kwargs = true;
    }
    for (const auto& child : expr->children) ScanExpr(child.get(), signature);
    for (const auto& child : expr->args) ScanExpr(child.get(), signature);
    for (const auto& [name, child] : expr->kwargs) ScanExpr(child.get(), signature);
    ScanExpr(expr->star_args.get(), signature);
    ScanExpr(expr->star_kwargs.get(), signature);
  }
  static void ScanSpecialNames(const Body& body, MacroSignature* signature) {
    for (const auto& stmt : body) {
      ScanExpr(stmt->expr.get(), signature);
      ScanExpr(stmt->filter.get(), signature);
      for (const auto& condition : stmt->conditions) ScanExpr(condition.get(), signature);
      for (const auto& child : stmt->macro.defaults) ScanExpr(child.get(), signature);
      for (const Body& inner : stmt->bodies) ScanSpecialNames(inner, signature);
    }
  }

  // set/for/with targets: names, tuples of names (parenthesised or bare), or `ns.attr` (set only).
  StatusOr<Target> ParseAssignTarget(bool with_namespace, std::vector<std::string> end_names) {
    Target target;
    target.offset = Current().offset;
    if (with_namespace && Current().type == TokenType::kName && IsOp(Peek(), ".")) {
      target.kind = Target::Kind::kNamespaceAttr;
      target.name = Current().text;
      Advance();
      Advance();
      LFM2_ASSIGN_OR_RETURN(target.attribute, ExpectName());
      return target;
    }
    std::vector<Target> items;
    bool is_tuple = false;
    while (true) {
      if (!items.empty()) LFM2_RETURN_IF_ERROR(ExpectOp(","));
      if (IsTupleEnd(end_names) || IsOp(Current(), "=")) break;
      LFM2_ASSIGN_OR_RETURN(Target item, ParsePrimaryTarget(end_names));
      items.push_back(std::move(item));
      if (!IsOp(Current(), ",")) break;
      is_tuple = true;
    }
    if (items.empty()) return Expected("an assignment target");
    if (!is_tuple) return std::move(items[0]);
    target.kind = Target::Kind::kTuple;
    target.items = std::move(items);
    return target;
  }
  StatusOr<Target> ParsePrimaryTarget(const std::vector<std::string>& end_names) {
    Target target;
    target.offset = Current().offset;
    if (Current().type == TokenType::kName) {
      const std::string& name = Current().text;
      if (name == "true" || name == "false" || name == "True" || name == "False" ||
          name == "none" || name == "None") {
        return Fail(Current(), "can't assign to const");
      }
      target.name = name;
      Advance();
      return target;
    }
    if (SkipOp("(")) {
      if (++target_depth_ > 32) return Fail(Current(), "assignment target nested too deeply");
      StatusOr<Target> inner = ParseAssignTarget(false, {});
      --target_depth_;
      if (!inner.ok()) return inner;
      LFM2_RETURN_IF_ERROR(ExpectOp(")"));
      return inner;
    }
    return Fail(Current(), "can't assign to " + Describe(Current()));
  }


  std::vector<OpenBlock> open_blocks_;
  int loop_depth_ = 0;
  int target_depth_ = 0;
};

}  // namespace

StatusOr<Body> ParseTemplate(const std::vector<Token>& tokens, const SourceMap& source) {
  return Parser(tokens, source).Run();
}

}  // namespace lfm2::jinja
