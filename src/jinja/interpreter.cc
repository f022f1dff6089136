// jinja/interpreter.cc - statement execution and expression evaluation (see
// interpreter.h). Operators and attribute/item lookup live in operators.cc, builtins
// in filters.cc and methods.cc.
#include "jinja/interpreter.h"

#include <algorithm>

#include "jinja/operators.h"
#include "jinja/parser.h"

namespace lfm2::jinja {
namespace {

// Eval/Exec frames; with kMaxAstDepth per expression this bounds native stack use.
constexpr int kMaxDepth = 1500;

class MacroCallable : public Callable {
 public:
  MacroCallable(const MacroSignature* signature, const Body* body, std::shared_ptr<Scope> closure)
      : signature_(signature), body_(body), closure_(std::move(closure)) {}
  std::string Repr() const override { return "<Macro '" + signature_->name + "'>"; }
  StatusOr<Value> Call(Interpreter& interpreter, CallArgs args) const override {
    return interpreter.CallMacro(*signature_, *body_, closure_, std::move(args), Value());
  }

 private:
  const MacroSignature* signature_;
  const Body* body_;
  std::shared_ptr<Scope> closure_;
};

// `loop(children)` inside a `for ... recursive` loop.
class RecursiveLoopCallable : public Callable {
 public:
  RecursiveLoopCallable(const Stmt* loop, std::shared_ptr<Scope> scope, int depth0)
      : loop_(loop), scope_(std::move(scope)), depth0_(depth0) {}
  std::string Repr() const override { return "<LoopContext>"; }
  StatusOr<Value> Call(Interpreter& interpreter, CallArgs args) const override {
    if (args.positional.size() != 1 || !args.keyword.empty()) {
      return InvalidArgumentError("TypeError: loop() takes exactly one argument");
    }
    return interpreter.CallRecursiveLoop(*loop_, scope_, depth0_, args.positional[0]);
  }

 private:
  const Stmt* loop_;
  std::shared_ptr<Scope> scope_;
  int depth0_;
};

}  // namespace

// ---- Template ----

StatusOr<Template> Template::Parse(std::string_view source, std::string name) {
  auto parsed = std::make_shared<Parsed>();
  parsed->source = SourceMap(std::move(name), NormalizeTemplateSource(source));
  LFM2_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(parsed->source));
  LFM2_ASSIGN_OR_RETURN(parsed->body, ParseTemplate(tokens, parsed->source));
  return Template(std::move(parsed));
}

StatusOr<std::string> Template::Render(
    const std::vector<std::pair<std::string, Value>>& variables,
    const RenderOptions& options) const {
  Interpreter interpreter(parsed_->source, options);
  return interpreter.Run(parsed_->body, variables);
}

// ---- Scope ----

const Value* Scope::Find(const std::string& name) const {
  for (const Scope* scope = this; scope != nullptr; scope = scope->parent.get()) {
    auto it = scope->variables.find(name);
    if (it != scope->variables.end()) return &it->second;
  }
  return nullptr;
}

// ---- Interpreter ----

Interpreter::Interpreter(const SourceMap& source, const RenderOptions& options)
    : source_(source), options_(options) {}

Interpreter::~Interpreter() {
  // Empty the objects that can form chains or cycles while all of them are still referenced
  // from here, so no destructor recurses through them.
  for (auto& ns : namespaces_) {
    DictData attributes = std::move(ns->attributes);
    ns->attributes = DictData();
  }
  for (auto& loop : loops_) {
    loop->last_changed_value.reset();
    loop->recurse.reset();
    loop->items.reset();
  }
  for (auto& scope : closures_) {
    auto variables = std::move(scope->variables);
    scope->variables.clear();
  }
  for (auto& scope : closures_) scope->parent.reset();
}

StatusOr<std::string> Interpreter::Run(const Body& body,
                                       const std::vector<std::pair<std::string, Value>>& variables) {
  globals_ = std::make_shared<Scope>(nullptr);
  for (auto& [name, value] : BuiltinGlobals()) globals_->variables[name] = std::move(value);
  for (const auto& [name, value] : variables) {
    LFM2_RETURN_IF_ERROR(CheckDepth(value));
    globals_->variables[name] = value;
  }
  auto top = std::make_shared<Scope>(globals_);
  closures_.push_back(top);
  closures_.push_back(globals_);
  std::string output;
  out_ = &output;
  Status status = Exec(body, top);
  out_ = nullptr;
  if (!status.ok()) return status;
  return output;
}

std::time_t Interpreter::Now() const {
  return options_.now ? *options_.now : std::time(nullptr);
}

Status Interpreter::Charge(uint64_t units) {
  work_ += units;
  if (work_ > options_.max_work) {
    return ResourceExhaustedError("template exceeded its work budget (", options_.max_work,
                                  " steps)");
  }
  return Status::Ok();
}

Status Interpreter::CheckStringSize(size_t bytes) {
  if (bytes > options_.max_output_bytes) {
    return ResourceExhaustedError("string of ", bytes, " bytes exceeds the limit of ",
                                  options_.max_output_bytes, " bytes");
  }
  return Charge(bytes / 16);
}

Status Interpreter::CheckDepth(const Value& value) const {
  if (value.depth() > kMaxValueDepth) {
    return InvalidArgumentError("value nested deeper than ", kMaxValueDepth, " levels");
  }
  return Status::Ok();
}

Value Interpreter::NewNamespace(DictData attributes) {
  auto data = std::make_shared<NamespaceData>();
  data->attributes = std::move(attributes);
  namespaces_.push_back(data);
  return Value::Namespace(std::move(data));
}

Status Interpreter::Located(uint32_t offset, const Status& status) const {
  if (status.ok()) return status;
  const std::string& message = status.message();
  if (message.rfind(source_.name() + ":", 0) == 0) return status;
  return Status(status.code(), source_.Where(offset) + ": " + message);
}

Status Interpreter::Fail(uint32_t offset, const std::string& message) const {
  return InvalidArgumentError(source_.Where(offset), ": ", message);
}

Status Interpreter::Append(std::string_view text) {
  if (out_->size() + text.size() > options_.max_output_bytes) {
    return ResourceExhaustedError("rendered output exceeds the limit of ",
                                  options_.max_output_bytes, " bytes");
  }
  appended_bytes_ += text.size();
  if (appended_bytes_ > 4 * static_cast<uint64_t>(options_.max_output_bytes)) {
    return ResourceExhaustedError("template produced more than ",
                                  4 * static_cast<uint64_t>(options_.max_output_bytes),
                                  " bytes of output");
  }
  out_->append(text);
  return Charge(text.size() / 16);
}

StatusOr<std::string> Interpreter::Capture(const Body& body, const std::shared_ptr<Scope>& scope) {
  std::string captured;
  std::string* saved = out_;
  out_ = &captured;
  Status status = Exec(body, scope);
  out_ = saved;
  if (!status.ok()) return status;
  return captured;
}

// ---- statements ----

Status Interpreter::Exec(const Body& body, const std::shared_ptr<Scope>& scope) {
  for (const auto& stmt : body) {
    LFM2_RETURN_IF_ERROR(ExecStmt(*stmt, scope));
    if (jump_ != Jump::kNone) break;
  }
  return Status::Ok();
}

Status Interpreter::ExecStmt(const Stmt& stmt, const std::shared_ptr<Scope>& scope) {
  if (depth_ + 1 > kMaxDepth) return Fail(stmt.offset, "template recursion too deep");
  struct DepthGuard {
    int& depth;
    explicit DepthGuard(int& d) : depth(d) { ++depth; }
    ~DepthGuard() { --depth; }
  } guard(depth_);
  LFM2_RETURN_IF_ERROR(Charge(1));
  switch (stmt.kind) {
    case StmtKind::kText:
      return Append(stmt.text);
    case StmtKind::kOutput: {
      LFM2_ASSIGN_OR_RETURN(Value value, Eval(*stmt.expr, *scope));
      if (value.is_string()) return Append(value.string());
      return Append(Str(value));
    }
    case StmtKind::kIf: {
      for (size_t i = 0; i < stmt.conditions.size(); ++i) {
        LFM2_ASSIGN_OR_RETURN(Value condition, Eval(*stmt.conditions[i], *scope));
        if (Truthy(condition)) return Exec(stmt.bodies[i], scope);
      }
      if (stmt.bodies.size() > stmt.conditions.size()) return Exec(stmt.bodies.back(), scope);
      return Status::Ok();
    }
    case StmtKind::kFor: {
      LFM2_ASSIGN_OR_RETURN(Value iterable, Eval(*stmt.expr, *scope));
      return ExecFor(stmt, scope, iterable, 0);
    }
    case StmtKind::kSet: {
      LFM2_ASSIGN_OR_RETURN(Value value, Eval(*stmt.expr, *scope));
      return Assign(stmt.target, value, *scope);
    }
    case StmtKind::kSetBlock: {
      auto inner = std::make_shared<Scope>(scope);
      LFM2_ASSIGN_OR_RETURN(std::string text, Capture(stmt.bodies[0], inner));
      Value value = Value::String(std::move(text));
      if (stmt.filter) {
        LFM2_ASSIGN_OR_RETURN(value, EvalFilterChain(*stmt.filter, *scope, value));
      }
      return Assign(stmt.target, value, *scope);
    }
    case StmtKind::kMacro: {
      closures_.push_back(scope);
      scope->variables[stmt.macro.name] = Value::Function(
          std::make_shared<MacroCallable>(&stmt.macro, &stmt.bodies[0], scope));
      return Status::Ok();
    }
    case StmtKind::kCallBlock:
      return ExecCallBlock(stmt, scope);
    case StmtKind::kFilterBlock: {
      auto inner = std::make_shared<Scope>(scope);
      LFM2_ASSIGN_OR_RETURN(std::string text, Capture(stmt.bodies[0], inner));
      LFM2_ASSIGN_OR_RETURN(Value value,
                            EvalFilterChain(*stmt.expr, *scope, Value::String(std::move(text))));
      return Append(Str(value));
    }
    case StmtKind::kWith: {
      auto inner = std::make_shared<Scope>(scope);
      std::vector<Value> values;
      for (const auto& expr : stmt.conditions) {
        LFM2_ASSIGN_OR_RETURN(Value value, Eval(*expr, *scope));
        values.push_back(std::move(value));
      }
      for (size_t i = 0; i < values.size(); ++i) {
        LFM2_RETURN_IF_ERROR(Assign(stmt.targets[i], values[i], *inner));
      }
      return Exec(stmt.bodies[0], inner);
    }
    case StmtKind::kScope:
      return Exec(stmt.bodies[0], std::make_shared<Scope>(scope));
    case StmtKind::kBreak:
      jump_ = Jump::kBreak;
      return Status::Ok();
    case StmtKind::kContinue:
      jump_ = Jump::kContinue;
      return Status::Ok();
  }
  return Status::Ok();
}

Status Interpreter::ExecFor(const Stmt& stmt, const std::shared_ptr<Scope>& scope,
                           const Value& iterable, int depth0) {
  StatusOr<std::vector<Value>> all = Iterate(iterable);
  if (!all.ok()) return Located(stmt.expr->offset, all.status());
  std::vector<Value> items;
  if (stmt.filter) {
    for (Value& item : *all) {
      LFM2_RETURN_IF_ERROR(Charge(1));
      Scope test_scope(scope);
      LFM2_RETURN_IF_ERROR(Assign(stmt.target, item, test_scope));
      LFM2_ASSIGN_OR_RETURN(Value keep, Eval(*stmt.filter, test_scope));
      if (Truthy(keep)) items.push_back(std::move(item));
    }
  } else {
    items = std::move(all).value();
  }
  if (items.empty()) {
    if (stmt.bodies.size() > 1) return Exec(stmt.bodies[1], std::make_shared<Scope>(scope));
    return Status::Ok();
  }
  auto loop = std::make_shared<LoopData>();
  loop->items = Value::List(std::move(items)).list_ptr();
  loop->depth0 = depth0;
  if (stmt.recursive) {
    closures_.push_back(scope);
    loop->recurse = std::make_shared<Value>(
        Value::Function(std::make_shared<RecursiveLoopCallable>(&stmt, scope, depth0 + 1)));
  }
  loops_.push_back(loop);
  const Value loop_value = Value::Loop(loop);
  const size_t count = loop->items->items.size();
  for (size_t i = 0; i < count; ++i) {
    if (++loop_iterations_ > options_.max_loop_iterations) {
      return ResourceExhaustedError(source_.Where(stmt.offset), ": more than ",
                                    options_.max_loop_iterations, " loop iterations");
    }
    LFM2_RETURN_IF_ERROR(Charge(1));
    auto iteration = std::make_shared<Scope>(scope);
    LFM2_RETURN_IF_ERROR(Assign(stmt.target, loop->items->items[i], *iteration));
    iteration->variables["loop"] = loop_value;
    loop->index0 = i;
    LFM2_RETURN_IF_ERROR(Exec(stmt.bodies[0], iteration));
    if (jump_ == Jump::kBreak) {
      jump_ = Jump::kNone;
      break;
    }
    jump_ = Jump::kNone;
  }
  return Status::Ok();
}

StatusOr<Value> Interpreter::CallRecursiveLoop(const Stmt& loop, const std::shared_ptr<Scope>& scope,
                                               int depth0, const Value& iterable) {
  if (++call_depth_ > options_.max_call_depth) {
    --call_depth_;
    return InvalidArgumentError("recursive loop nested deeper than ", options_.max_call_depth);
  }
  std::string captured;
  std::string* saved = out_;
  out_ = &captured;
  Status status = ExecFor(loop, scope, iterable, depth0);
  out_ = saved;
  --call_depth_;
  if (!status.ok()) return status;
  return Value::String(std::move(captured));
}

Status Interpreter::ExecCallBlock(const Stmt& stmt, const std::shared_ptr<Scope>& scope) {
  closures_.push_back(scope);
  Value caller = Value::Function(
      std::make_shared<MacroCallable>(&stmt.macro, &stmt.bodies[0], scope));
  const Expr& call = *stmt.expr;
  LFM2_ASSIGN_OR_RETURN(Value callee, Eval(*call.children[0], *scope));
  CallArgs args;
  LFM2_RETURN_IF_ERROR(EvalArgs(call, *scope, &args));
  args.keyword.emplace_back("caller", std::move(caller));
  StatusOr<Value> result = CallValue(callee, std::move(args));
  if (!result.ok()) return Located(call.offset, result.status());
  return Append(Str(*result));
}

Status Interpreter::Assign(const Target& target, const Value& value, Scope& scope) {
  switch (target.kind) {
    case Target::Kind::kName:
      scope.variables[target.name] = value;
      return Status::Ok();
    case Target::Kind::kNamespaceAttr: {
      const Value* ns = scope.Find(target.name);
      if (ns == nullptr || !ns->is_namespace()) {
        return Fail(target.offset, "cannot assign attribute on non-namespace object");
      }
      LFM2_RETURN_IF_ERROR(Located(target.offset, CheckDepth(value)));
      return Located(target.offset,
                     ns->namespace_data().attributes.Set(Value::String(target.attribute), value));
    }
    case Target::Kind::kTuple: {
      StatusOr<std::vector<Value>> items = Iterate(value);
      if (!items.ok()) {
        return Fail(target.offset, "TypeError: cannot unpack non-iterable " + TypeName(value) +
                                       " object");
      }
      const size_t expected = target.items.size();
      if (items->size() > expected) {
        return Fail(target.offset,
                    StrCat("ValueError: too many values to unpack (expected ", expected, ")"));
      }
      if (items->size() < expected) {
        return Fail(target.offset, StrCat("ValueError: not enough values to unpack (expected ",
                                          expected, ", got ", items->size(), ")"));
      }
      for (size_t i = 0; i < expected; ++i) {
        LFM2_RETURN_IF_ERROR(Assign(target.items[i], (*items)[i], scope));
      }
      return Status::Ok();
    }
  }
  return Status::Ok();
}

StatusOr<Value> Interpreter::CallMacro(const MacroSignature& signature, const Body& body,
                                       const std::shared_ptr<Scope>& closure, CallArgs args,
                                       const Value& /*caller*/) {
  if (call_depth_ + 1 > options_.max_call_depth) {
    return InvalidArgumentError("macro '", signature.name, "' nested deeper than ",
                                options_.max_call_depth, " calls");
  }
  const size_t count = signature.params.size();
  std::vector<std::optional<Value>> bound(count);
  const size_t given = std::min(args.positional.size(), count);
  for (size_t i = 0; i < given; ++i) bound[i] = args.positional[i];
  auto take_keyword = [&](const std::string& name) -> std::optional<Value> {
    for (auto it = args.keyword.begin(); it != args.keyword.end(); ++it) {
      if (it->first == name) {
        Value value = std::move(it->second);
        args.keyword.erase(it);
        return value;
      }
    }
    return std::nullopt;
  };
  bool caller_is_param = false;
  if (given < count) {
    for (size_t i = given; i < count; ++i) {
      bound[i] = take_keyword(signature.params[i]);
      if (signature.params[i] == "caller") caller_is_param = true;
    }
  }
  std::optional<Value> caller;
  if (signature.uses_caller && !caller_is_param) caller = take_keyword("caller");
  if (!signature.uses_kwargs && !args.keyword.empty()) {
    return InvalidArgumentError("TypeError: macro '", signature.name,
                                "' takes no keyword argument '", args.keyword[0].first, "'");
  }
  if (!signature.uses_varargs && args.positional.size() > count) {
    return InvalidArgumentError("TypeError: macro '", signature.name, "' takes not more than ",
                                count, " argument(s)");
  }
  auto scope = std::make_shared<Scope>(closure);
  ++call_depth_;
  struct CallDepthGuard {
    int& depth;
    ~CallDepthGuard() { --depth; }
  } guard{call_depth_};
  for (size_t i = 0; i < count; ++i) {
    const std::string& name = signature.params[i];
    if (bound[i]) {
      scope->variables[name] = std::move(*bound[i]);
    } else if (signature.defaults[i]) {
      LFM2_ASSIGN_OR_RETURN(Value value, Eval(*signature.defaults[i], *scope));
      scope->variables[name] = std::move(value);
    } else {
      scope->variables[name] = Value::Undefined("parameter '" + name + "' was not provided");
    }
  }
  if (signature.uses_varargs) {
    std::vector<Value> extra;
    for (size_t i = count; i < args.positional.size(); ++i) extra.push_back(args.positional[i]);
    scope->variables["varargs"] = Value::Tuple(std::move(extra));
  }
  if (signature.uses_kwargs) {
    DictData kwargs;
    for (auto& [key, value] : args.keyword) {
      LFM2_RETURN_IF_ERROR(kwargs.Set(Value::String(key), std::move(value)));
    }
    scope->variables["kwargs"] = Value::Dict(std::move(kwargs));
  }
  if (signature.uses_caller && !caller_is_param) {
    scope->variables["caller"] = caller ? std::move(*caller) : Value::Undefined("No caller defined");
  }
  LFM2_ASSIGN_OR_RETURN(std::string output, Capture(body, scope));
  return Value::String(std::move(output));
}

// ---- expressions ----

StatusOr<Value> Interpreter::Lookup(const std::string& name, const Scope& scope) const {
  const Value* value = scope.Find(name);
  if (value != nullptr) return *value;
  return Value::Undefined("'" + name + "' is undefined");
}

StatusOr<Value> Interpreter::Eval(const Expr& expr, Scope& scope) {
  if (depth_ + 1 > kMaxDepth) return Fail(expr.offset, "template recursion too deep");
  ++depth_;
  Status charged = Charge(1);
  StatusOr<Value> result = charged.ok() ? EvalInner(expr, scope) : StatusOr<Value>(charged);
  --depth_;
  if (!result.ok()) return Located(expr.offset, result.status());
  if (result->depth() > kMaxValueDepth) return Located(expr.offset, CheckDepth(*result));
  return result;
}

Status Interpreter::EvalArgs(const Expr& expr, Scope& scope, CallArgs* args) {
  for (const auto& arg : expr.args) {
    LFM2_ASSIGN_OR_RETURN(Value value, Eval(*arg, scope));
    args->positional.push_back(std::move(value));
  }
  for (const auto& [name, arg] : expr.kwargs) {
    LFM2_ASSIGN_OR_RETURN(Value value, Eval(*arg, scope));
    args->keyword.emplace_back(name, std::move(value));
  }
  if (expr.star_args) {
    LFM2_ASSIGN_OR_RETURN(Value extra, Eval(*expr.star_args, scope));
    StatusOr<std::vector<Value>> items = Iterate(extra);
    if (!items.ok()) return Located(expr.star_args->offset, items.status());
    for (Value& item : *items) args->positional.push_back(std::move(item));
  }
  if (expr.star_kwargs) {
    LFM2_ASSIGN_OR_RETURN(Value extra, Eval(*expr.star_kwargs, scope));
    if (!extra.is_dict()) {
      return Fail(expr.star_kwargs->offset, "TypeError: argument after ** must be a mapping, not " +
                                                TypeName(extra));
    }
    for (const auto& [key, value] : extra.dict().entries()) {
      if (!key.is_string()) return Fail(expr.star_kwargs->offset, "TypeError: keywords must be strings");
      args->keyword.emplace_back(key.string(), value);
    }
  }
  return Status::Ok();
}

StatusOr<Value> Interpreter::EvalFilterChain(const Expr& filter, Scope& scope, const Value& input) {
  Value operand = input;
  if (filter.children[0]) {
    LFM2_ASSIGN_OR_RETURN(operand, EvalFilterChain(*filter.children[0], scope, input));
  }
  CallArgs args;
  LFM2_RETURN_IF_ERROR(EvalArgs(filter, scope, &args));
  StatusOr<Value> result = ApplyFilter(filter.name, operand, std::move(args));
  if (!result.ok()) return Located(filter.offset, result.status());
  return result;
}

StatusOr<Value> Interpreter::EvalCompare(const Expr& expr, Scope& scope) {
  LFM2_ASSIGN_OR_RETURN(Value left, Eval(*expr.children[0], scope));
  for (size_t i = 0; i < expr.ops.size(); ++i) {
    LFM2_ASSIGN_OR_RETURN(Value right, Eval(*expr.children[i + 1], scope));
    const std::string& op = expr.ops[i];
    bool result;
    if (op == "==") {
      result = Equals(left, right);
    } else if (op == "!=") {
      result = !Equals(left, right);
    } else if (op == "in" || op == "not in") {
      LFM2_ASSIGN_OR_RETURN(bool contained, Contains(right, left));
      result = (op == "in") == contained;
    } else {
      LFM2_ASSIGN_OR_RETURN(result, Compare(left, right, op));
    }
    if (!result) return Value::Bool(false);
    left = std::move(right);
  }
  return Value::Bool(true);
}

StatusOr<Value> Interpreter::EvalSlice(const Expr& expr, Scope& scope) {
  LFM2_ASSIGN_OR_RETURN(Value object, Eval(*expr.children[0], scope));
  std::optional<Value> bounds[3];
  for (int i = 0; i < 3; ++i) {
    if (expr.children[i + 1]) {
      LFM2_ASSIGN_OR_RETURN(Value bound, Eval(*expr.children[i + 1], scope));
      bounds[i] = std::move(bound);
    }
  }
  return SliceValue(*this, object, bounds[0], bounds[1], bounds[2]);
}

StatusOr<Value> Interpreter::EvalInner(const Expr& expr, Scope& scope) {
  switch (expr.kind) {
    case ExprKind::kLiteral:
      return expr.literal;
    case ExprKind::kName:
      return Lookup(expr.name, scope);
    case ExprKind::kList:
    case ExprKind::kTuple: {
      std::vector<Value> items;
      items.reserve(expr.children.size());
      for (const auto& child : expr.children) {
        LFM2_ASSIGN_OR_RETURN(Value item, Eval(*child, scope));
        items.push_back(std::move(item));
      }
      return Value::List(std::move(items),
                         expr.kind == ExprKind::kTuple ? ListFlavor::kTuple : ListFlavor::kList);
    }
    case ExprKind::kDict: {
      DictData dict;
      for (size_t i = 0; i + 1 < expr.children.size(); i += 2) {
        LFM2_ASSIGN_OR_RETURN(Value key, Eval(*expr.children[i], scope));
        LFM2_ASSIGN_OR_RETURN(Value value, Eval(*expr.children[i + 1], scope));
        LFM2_RETURN_IF_ERROR(dict.Set(std::move(key), std::move(value)));
      }
      return Value::Dict(std::move(dict));
    }
    case ExprKind::kGetAttr: {
      LFM2_ASSIGN_OR_RETURN(Value object, Eval(*expr.children[0], scope));
      return GetAttribute(object, expr.name);
    }
    case ExprKind::kGetItem: {
      LFM2_ASSIGN_OR_RETURN(Value object, Eval(*expr.children[0], scope));
      LFM2_ASSIGN_OR_RETURN(Value key, Eval(*expr.children[1], scope));
      return GetItem(object, key);
    }
    case ExprKind::kSlice:
      return EvalSlice(expr, scope);
    case ExprKind::kUnary: {
      LFM2_ASSIGN_OR_RETURN(Value operand, Eval(*expr.children[0], scope));
      return UnaryOp(expr.name, operand);
    }
    case ExprKind::kNot: {
      LFM2_ASSIGN_OR_RETURN(Value operand, Eval(*expr.children[0], scope));
      return Value::Bool(!Truthy(operand));
    }
    case ExprKind::kBinary: {
      LFM2_ASSIGN_OR_RETURN(Value left, Eval(*expr.children[0], scope));
      LFM2_ASSIGN_OR_RETURN(Value right, Eval(*expr.children[1], scope));
      return BinaryOp(*this, expr.name, left, right);
    }
    case ExprKind::kConcat: {
      std::string text;
      for (const auto& child : expr.children) {
        LFM2_ASSIGN_OR_RETURN(Value part, Eval(*child, scope));
        if (part.is_string()) {
          text += part.string();
        } else {
          text += Str(part);
        }
        LFM2_RETURN_IF_ERROR(CheckStringSize(text.size()));
      }
      return Value::String(std::move(text));
    }
    case ExprKind::kAnd:
    case ExprKind::kOr: {
      LFM2_ASSIGN_OR_RETURN(Value left, Eval(*expr.children[0], scope));
      if (Truthy(left) == (expr.kind == ExprKind::kOr)) return left;
      return Eval(*expr.children[1], scope);
    }
    case ExprKind::kCompare:
      return EvalCompare(expr, scope);
    case ExprKind::kCondition: {
      LFM2_ASSIGN_OR_RETURN(Value test, Eval(*expr.children[0], scope));
      if (Truthy(test)) return Eval(*expr.children[1], scope);
      if (expr.children[2]) return Eval(*expr.children[2], scope);
      return Value::Undefined(
          "the inline if-expression evaluated to false and no else section was defined.");
    }
    case ExprKind::kCall: {
      LFM2_ASSIGN_OR_RETURN(Value callee, Eval(*expr.children[0], scope));
      CallArgs args;
      LFM2_RETURN_IF_ERROR(EvalArgs(expr, scope, &args));
      return CallValue(callee, std::move(args));
    }
    case ExprKind::kFilter: {
      if (!expr.children[0]) return Fail(expr.offset, "filter without a value");
      LFM2_ASSIGN_OR_RETURN(Value operand, Eval(*expr.children[0], scope));
      CallArgs args;
      LFM2_RETURN_IF_ERROR(EvalArgs(expr, scope, &args));
      return ApplyFilter(expr.name, operand, std::move(args));
    }
    case ExprKind::kTest: {
      LFM2_ASSIGN_OR_RETURN(Value operand, Eval(*expr.children[0], scope));
      CallArgs args;
      LFM2_RETURN_IF_ERROR(EvalArgs(expr, scope, &args));
      LFM2_ASSIGN_OR_RETURN(bool result, ApplyTest(expr.name, operand, std::move(args)));
      return Value::Bool(result != expr.negated);
    }
  }
  return Fail(expr.offset, "internal error: unknown expression");
}

StatusOr<Value> Interpreter::CallValue(const Value& callee, CallArgs args) {
  switch (callee.kind()) {
    case Kind::kCallable:
      return callee.callable().Call(*this, std::move(args));
    case Kind::kUndefined:
      return InvalidArgumentError("UndefinedError: ", callee.undefined_message());
    case Kind::kLoop:
      if (callee.loop().recurse) return CallValue(*callee.loop().recurse, std::move(args));
      return InvalidArgumentError("TypeError: The loop must be marked as 'recursive' to call it");
    default:
      return InvalidArgumentError("TypeError: '", TypeName(callee), "' object is not callable");
  }
}

StatusOr<Value> Interpreter::ApplyFilter(const std::string& name, const Value& input,
                                         CallArgs args) {
  const auto& filters = Filters();
  auto it = filters.find(name);
  if (it == filters.end()) return InvalidArgumentError("no filter named '", name, "'");
  return it->second(*this, input, args);
}

StatusOr<bool> Interpreter::ApplyTest(const std::string& name, const Value& input, CallArgs args) {
  const auto& tests = Tests();
  auto it = tests.find(name);
  if (it == tests.end()) return InvalidArgumentError("no test named '", name, "'");
  return it->second(*this, input, args);
}

}  // namespace lfm2::jinja
