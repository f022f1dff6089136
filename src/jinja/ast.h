// jinja/ast.h - the parsed form of a template: expression and statement nodes as
// jinja2's parser builds them (same precedence, same node kinds), produced by parser.cc
// and walked by interpreter.cc. Every node keeps the byte offset of its first token for
// line:column error messages. Trees are depth-limited by the parser (kMaxAstDepth), so the
// recursive evaluator cannot run out of stack.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "jinja/value.h"

namespace lfm2::jinja {

inline constexpr uint32_t kMaxAstDepth = 200;

enum class ExprKind : uint8_t {
  kLiteral,    // literal
  kName,       // name
  kList,       // children = items
  kTuple,      // children = items
  kDict,       // children = key0, value0, key1, value1, ...
  kGetAttr,    // children[0].name (dot access: attribute first, then item)
  kGetItem,    // children[0][children[1]] (item first, then attribute)
  kSlice,      // children[0][children[1]:children[2]:children[3]] (null when omitted)
  kUnary,      // name in {"-", "+"}; children[0]
  kNot,        // children[0]
  kBinary,     // name in {"+","-","*","/","//","%","**"}; children[0], children[1]
  kConcat,     // children joined with `~`
  kAnd,        // children[0] and children[1]
  kOr,         // children[0] or children[1]
  kCompare,    // children[0] ops[0] children[1] ops[1] children[2] ... (chained like Python)
  kCondition,  // children[1] if children[0] else children[2] (children[2] may be null)
  kCall,       // children[0](args...)
  kFilter,     // children[0] | name(args...); children[0] null inside filter blocks
  kTest,       // children[0] is [not] name(args...)
};

struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  uint32_t offset = 0;
  uint32_t depth = 1;
  Value literal;
  std::string name;
  std::vector<std::unique_ptr<Expr>> children;
  std::vector<std::string> ops;  // kCompare: "==", "!=", "<", "<=", ">", ">=", "in", "not in"
  // Call, filter and test arguments.
  std::vector<std::unique_ptr<Expr>> args;
  std::vector<std::pair<std::string, std::unique_ptr<Expr>>> kwargs;
  std::unique_ptr<Expr> star_args;    // *args
  std::unique_ptr<Expr> star_kwargs;  // **kwargs
  bool negated = false;               // kTest: `is not`
};

// Left-hand side of set/for/with: a name, a tuple of targets, or `ns.attr`.
struct Target {
  enum class Kind : uint8_t { kName, kTuple, kNamespaceAttr };
  Kind kind = Kind::kName;
  std::string name;
  std::string attribute;  // kNamespaceAttr
  std::vector<Target> items;  // kTuple
  uint32_t offset = 0;
};

enum class StmtKind : uint8_t {
  kText,         // text
  kOutput,       // {{ expr }} / {% print %}
  kIf,           // conditions[i] -> bodies[i]; bodies.size() == conditions.size() + 1 for else
  kFor,          // for target in expr [if filter] ... bodies[0], else bodies[1]
  kSet,          // set target = expr
  kSetBlock,     // set target [| filter] ... bodies[0] endset
  kMacro,        // macro definition
  kCallBlock,    // call[(params)] expr ... bodies[0] endcall
  kFilterBlock,  // filter chain (expr, operand null) ... bodies[0]
  kWith,         // with targets = values ... bodies[0]
  kScope,        // generation ... endgeneration: bodies[0] in its own scope
  kBreak,
  kContinue,
};

struct Stmt;
using Body = std::vector<std::unique_ptr<Stmt>>;

struct MacroSignature {
  std::string name;
  std::vector<std::string> params;
  std::vector<std::unique_ptr<Expr>> defaults;  // one per param, null when none
  bool uses_caller = false;
  bool uses_varargs = false;
  bool uses_kwargs = false;
};

struct Stmt {
  StmtKind kind = StmtKind::kText;
  uint32_t offset = 0;
  std::string text;
  std::unique_ptr<Expr> expr;
  std::unique_ptr<Expr> filter;  // kFor: the `if` condition; kSetBlock: optional filter chain
  std::vector<std::unique_ptr<Expr>> conditions;  // kIf; kWith values
  std::vector<Body> bodies;
  Target target;
  std::vector<Target> targets;  // kWith
  bool recursive = false;       // kFor
  MacroSignature macro;         // kMacro, kCallBlock (the caller's signature)
};

}  // namespace lfm2::jinja
