// jinja/interpreter.h - renders a parsed template: jinja2's runtime semantics as HF's
// ImmutableSandboxedEnvironment sets them up (lenient Undefined, sandboxed attribute lookup,
// loopcontrols, {% generation %}), plus hard limits so hostile templates or inputs can neither
// crash nor hang the process (output size, loop iterations, work steps, recursion depth).
//
// Template is the public entry point; Interpreter is exposed for the builtin filters, tests and
// methods (filters.cc, methods.cc), which call back into it.
#pragma once

#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"
#include "jinja/ast.h"
#include "jinja/lexer.h"
#include "jinja/value.h"

namespace lfm2::jinja {

struct RenderOptions {
  size_t max_output_bytes = size_t{64} << 20;  // also the largest string a template may build
  uint64_t max_loop_iterations = 1'000'000;     // summed over all loops of one render
  uint64_t max_work = 200'000'000;              // abstract steps (nodes evaluated, bytes/16 built)
  int max_call_depth = 64;                      // nested macro calls
  // Time for strftime_now(); the current time when unset.
  std::optional<std::time_t> now;
};

// A parsed template; cheap to copy and safe to render from several threads at once.
class Template {
 public:
  // Parses `source`; `name` prefixes error positions ("chat_template.jinja:12:5: ...").
  static StatusOr<Template> Parse(std::string_view source, std::string name);

  // Renders with `variables` visible as globals (besides the builtins range, dict, namespace,
  // joiner, raise_exception and strftime_now, which variables of the same name override).
  StatusOr<std::string> Render(const std::vector<std::pair<std::string, Value>>& variables,
                               const RenderOptions& options = {}) const;

 private:
  struct Parsed {
    SourceMap source;
    Body body;
  };
  explicit Template(std::shared_ptr<const Parsed> parsed) : parsed_(std::move(parsed)) {}
  std::shared_ptr<const Parsed> parsed_;
};

// A variable scope; for-loop iterations, macro calls, call/filter/with/generation blocks each get
// their own child, so `set` inside them does not leak out (jinja2 scoping).
struct Scope {
  explicit Scope(std::shared_ptr<Scope> parent_scope) : parent(std::move(parent_scope)) {}
  const Value* Find(const std::string& name) const;
  std::unordered_map<std::string, Value> variables;
  std::shared_ptr<Scope> parent;
};

// Builtin signatures. Filters get the filtered value first; tests answer a bool.
using FilterFunction = StatusOr<Value> (*)(Interpreter&, const Value&, CallArgs&);
using TestFunction = StatusOr<bool> (*)(Interpreter&, const Value&, CallArgs&);
const std::unordered_map<std::string, FilterFunction>& Filters();  // filters.cc
const std::unordered_map<std::string, TestFunction>& Tests();      // filters.cc

// Binds positional and keyword arguments to named parameters, Python style: returns one slot
// per name (nullopt when not given). Errors for unknown keywords or too many positionals.
StatusOr<std::vector<std::optional<Value>>> BindArguments(std::string_view function,
                                                          CallArgs& args,
                                                          std::initializer_list<const char*> names);

// str/dict/list methods (methods.cc). `unsafe` is set for methods the immutable sandbox
// refuses (list.append, dict.update, ...).
bool HasMethod(const Value& receiver, const std::string& name, bool* unsafe);
StatusOr<Value> CallMethod(Interpreter& interpreter, const Value& receiver,
                           const std::string& name, CallArgs& args);
// Python `format % args` (printf-style) and `format.format(*args, **kwargs)` (format.cc).
StatusOr<std::string> PercentFormat(Interpreter& interpreter, std::string_view format,
                                    const Value& args);
StatusOr<Value> StrFormat(Interpreter& interpreter, const std::string& format, CallArgs& args);
// The global functions (range, dict, namespace, joiner, raise_exception, strftime_now).
std::vector<std::pair<std::string, Value>> BuiltinGlobals();

class Interpreter {
 public:
  Interpreter(const SourceMap& source, const RenderOptions& options);
  ~Interpreter();
  Interpreter(const Interpreter&) = delete;
  Interpreter& operator=(const Interpreter&) = delete;

  StatusOr<std::string> Run(const Body& body,
                            const std::vector<std::pair<std::string, Value>>& variables);

  // ---- services for builtins ----
  const RenderOptions& options() const { return options_; }
  std::time_t Now() const;
  // Spends `units` of the work budget; fails once it is exhausted.
  Status Charge(uint64_t units);
  // Checks a string about to be built against the size limit and charges for it.
  Status CheckStringSize(size_t bytes);
  // jinja2 sandbox attribute lookup (`x.name`: attribute first, then item) and item lookup
  // (`x[key]`: item first, then attribute). Missing -> Undefined; on Undefined -> error.
  StatusOr<Value> GetAttribute(const Value& object, const std::string& name);
  StatusOr<Value> GetItem(const Value& object, const Value& key);
  // Calls any callable value (macro, builtin, bound method).
  StatusOr<Value> CallValue(const Value& callee, CallArgs args);
  StatusOr<Value> ApplyFilter(const std::string& name, const Value& input, CallArgs args);
  StatusOr<bool> ApplyTest(const std::string& name, const Value& input, CallArgs args);
  // A namespace object the interpreter keeps alive (and breaks cycles of) until the render ends.
  Value NewNamespace(DictData attributes);
  // Validates a value about to be stored (nesting depth).
  Status CheckDepth(const Value& value) const;

  // Invoked by macro callables.
  StatusOr<Value> CallMacro(const MacroSignature& signature, const Body& body,
                            const std::shared_ptr<Scope>& closure, CallArgs args,
                            const Value& caller);
  StatusOr<Value> CallRecursiveLoop(const Stmt& loop, const std::shared_ptr<Scope>& scope,
                                    int depth0, const Value& iterable);

 private:
  enum class Jump : uint8_t { kNone, kBreak, kContinue };

  Status Exec(const Body& body, const std::shared_ptr<Scope>& scope);
  Status ExecStmt(const Stmt& stmt, const std::shared_ptr<Scope>& scope);
  Status ExecFor(const Stmt& stmt, const std::shared_ptr<Scope>& scope, const Value& iterable,
                 int depth0);
  Status ExecCallBlock(const Stmt& stmt, const std::shared_ptr<Scope>& scope);
  Status Assign(const Target& target, const Value& value, Scope& scope);
  StatusOr<std::string> Capture(const Body& body, const std::shared_ptr<Scope>& scope);
  Status Append(std::string_view text);

  StatusOr<Value> Eval(const Expr& expr, Scope& scope);
  StatusOr<Value> EvalInner(const Expr& expr, Scope& scope);
  StatusOr<Value> EvalCompare(const Expr& expr, Scope& scope);
  StatusOr<Value> EvalSlice(const Expr& expr, Scope& scope);
  Status EvalArgs(const Expr& expr, Scope& scope, CallArgs* args);
  StatusOr<Value> EvalFilterChain(const Expr& filter, Scope& scope, const Value& input);
  StatusOr<Value> Lookup(const std::string& name, const Scope& scope) const;

  // Prefixes "name:line:col: " to errors that do not carry a position yet.
  Status Located(uint32_t offset, const Status& status) const;
  Status Fail(uint32_t offset, const std::string& message) const;

  const SourceMap& source_;
  const RenderOptions& options_;
  std::shared_ptr<Scope> globals_;
  std::string* out_ = nullptr;
  uint64_t appended_bytes_ = 0;
  uint64_t work_ = 0;
  uint64_t loop_iterations_ = 0;
  int depth_ = 0;       // Eval/Exec recursion
  int call_depth_ = 0;  // macro calls
  Jump jump_ = Jump::kNone;
  // Kept alive until the end of the render, then emptied first, so freeing values never
  // recurses through chains or cycles of namespaces, loops and closures.
  std::vector<std::shared_ptr<NamespaceData>> namespaces_;
  std::vector<std::shared_ptr<LoopData>> loops_;
  std::vector<std::shared_ptr<Scope>> closures_;
};

}  // namespace lfm2::jinja
