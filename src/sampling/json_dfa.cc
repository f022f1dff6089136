// sampling/json_dfa.cc - JsonGrammar::Build: subset construction of every rule NFA over byte
// classes (call edges grouped by callee), the left-recursion check, the per-state stack `need`,
// trimming of states that cannot finish, the fast-path bits and free_chars.
#include <algorithm>
#include <map>
#include <unordered_map>

#include "sampling/json_grammar.h"

namespace lfm2::json_grammar {

class Determinizer {
 public:
  Determinizer(const ByteNfa& nfa, const GrammarLimits& limits)
      : nfa_(nfa), limits_(limits), stamp_(nfa.nodes_.size(), 0), is_end_(nfa.nodes_.size(), -1) {
    for (int r = 0; r < nfa.num_rules(); ++r) {
      if (nfa.rules_[r].end >= 0) is_end_[nfa.rules_[r].end] = r;
    }
  }

  StatusOr<std::shared_ptr<const JsonGrammar>> Run(int root) {
    auto grammar = std::make_shared<JsonGrammar>();
    g_ = grammar.get();
    ComputeClasses();
    sets_.emplace_back();  // state 0: dead
    AppendState();
    rule_start_.assign(nfa_.num_rules(), 0);
    LFM2_ASSIGN_OR_RETURN(g_->start_, RuleStart(root));
    while (next_unprocessed_ < sets_.size()) {
      if (sets_.size() > static_cast<size_t>(limits_.max_dfa_states) ||
          sets_.size() * static_cast<size_t>(g_->num_classes_) > kMaxTableCells ||
          members_ > kMaxSubsetMembers) {
        return UnsupportedError("the schema's automaton exceeds its size limits (",
                                limits_.max_dfa_states, " states, ", kMaxTableCells,
                                " table cells): large maxLength / maxItems / enum, patterns or "
                                "deep nesting");
      }
      LFM2_RETURN_IF_ERROR(Expand(static_cast<uint32_t>(next_unprocessed_++)));
    }
    for (auto& list : state_calls_) {  // rule index -> the rule's DFA start
      for (auto& call : list) call.start = rule_start_[call.start];
    }
    LFM2_RETURN_IF_ERROR(CheckLeftRecursion());
    ComputeNeed();
    Trim();
    if (g_->need_[g_->start_] > limits_.max_stack_depth) {
      return UnsupportedError("the schema admits no document within the nesting limit of ",
                              limits_.max_stack_depth,
                              " (contradictory constraints, or recursion that never ends)");
    }
    g_->max_stack_depth_ = limits_.max_stack_depth;
    ComputeFreeChars();
    return std::shared_ptr<const JsonGrammar>(std::move(grammar));
  }

 private:
  void ComputeClasses() {
    bool boundary[257] = {};
    boundary[0] = boundary[256] = true;
    for (const auto& node : nfa_.nodes_) {
      for (const auto& edge : node.bytes) {
        boundary[edge.lo] = true;
        boundary[edge.hi + 1] = true;
      }
    }
    int cls = -1;
    for (int b = 0; b < 256; ++b) {
      if (boundary[b]) ++cls;
      g_->byte_class_[b] = static_cast<uint8_t>(cls);
    }
    g_->num_classes_ = cls + 1;
  }

  // Sorted epsilon closure of `seeds` (modified in place).
  void Closure(std::vector<int>& states) {
    ++current_stamp_;
    std::vector<int> stack;
    for (int s : states) {
      if (stamp_[s] != current_stamp_) stamp_[s] = current_stamp_, stack.push_back(s);
    }
    states.clear();
    while (!stack.empty()) {
      const int s = stack.back();
      stack.pop_back();
      states.push_back(s);
      for (int to : nfa_.nodes_[s].epsilons) {
        if (stamp_[to] != current_stamp_) stamp_[to] = current_stamp_, stack.push_back(to);
      }
    }
    std::sort(states.begin(), states.end());
  }

  uint32_t Intern(std::vector<int>&& states) {
    if (states.empty()) return 0;
    auto it = ids_.find(states);
    if (it != ids_.end()) return it->second;
    const auto id = static_cast<uint32_t>(sets_.size());
    bool final = false;
    for (int s : states) final = final || is_end_[s] >= 0;
    members_ += states.size();
    ids_.emplace(states, id);
    sets_.push_back(std::move(states));
    AppendState();
    if (final) g_->flags_[id] = JsonGrammar::kFinal;
    return id;
  }

  void AppendState() {
    g_->next_.resize(g_->next_.size() + g_->num_classes_, 0);
    g_->flags_.push_back(0);
    state_calls_.emplace_back();
  }

  StatusOr<uint32_t> RuleStart(int rule) {
    if (rule < 0 || rule >= nfa_.num_rules() || nfa_.rules_[rule].start < 0) {
      return InternalError("grammar rule ", rule, " has no body");
    }
    if (rule_start_[rule] == 0) {
      std::vector<int> seeds = {nfa_.rules_[rule].start};
      Closure(seeds);
      rule_start_[rule] = Intern(std::move(seeds));
      if (rule_start_[rule] != 0 && (g_->flags_[rule_start_[rule]] & JsonGrammar::kFinal)) {
        return InternalError("grammar rule ", nfa_.rules_[rule].name, " matches the empty text");
      }
    }
    return rule_start_[rule];
  }

  Status Expand(uint32_t id) {
    const std::vector<int> members = sets_[id];  // copy: sets_ grows below
    const int num_classes = g_->num_classes_;
    std::vector<std::vector<int>>& targets = targets_;
    targets.resize(num_classes);
    for (auto& t : targets) t.clear();
    std::map<int, std::vector<int>> calls;  // rule -> continuation states
    for (int s : members) {
      const auto& node = nfa_.nodes_[s];
      for (const auto& edge : node.bytes) {
        for (int c = g_->byte_class_[edge.lo]; c <= g_->byte_class_[edge.hi]; ++c) {
          targets[c].push_back(edge.to);
        }
      }
      for (const auto& call : node.calls) calls[call.rule].push_back(call.to);
    }
    std::map<std::vector<int>, uint32_t> memo;  // classes often share a target set
    for (int c = 0; c < num_classes; ++c) {
      if (targets[c].empty()) continue;
      std::vector<int>& raw = targets[c];
      std::sort(raw.begin(), raw.end());
      raw.erase(std::unique(raw.begin(), raw.end()), raw.end());
      auto it = memo.find(raw);
      uint32_t to;
      if (it != memo.end()) {
        to = it->second;
      } else {
        std::vector<int> closed = raw;
        Closure(closed);
        to = Intern(std::move(closed));
        memo.emplace(raw, to);
      }
      g_->next_[static_cast<size_t>(id) * num_classes + c] = to;
    }
    for (auto& [rule, continuation] : calls) {
      LFM2_RETURN_IF_ERROR(RuleStart(rule).status());
      Closure(continuation);
      const uint32_t on_return = Intern(std::move(continuation));
      state_calls_[id].push_back({static_cast<uint32_t>(rule), on_return});
    }
    return Status::Ok();
  }

  // A rule whose start calls (transitively) itself before consuming a byte would recurse forever.
  Status CheckLeftRecursion() {
    std::vector<uint8_t> color(sets_.size(), 0);  // 0 new, 1 on stack, 2 done
    std::vector<std::pair<uint32_t, size_t>> stack;
    for (int r = 0; r < nfa_.num_rules(); ++r) {
      const uint32_t s = rule_start_[r];
      if (s == 0 || color[s] != 0) continue;
      stack.emplace_back(s, 0);
      color[s] = 1;
      while (!stack.empty()) {
        auto& [state, index] = stack.back();
        if (index < state_calls_[state].size()) {
          const uint32_t callee = state_calls_[state][index++].start;
          if (color[callee] == 1) {
            return UnsupportedError("recursive $ref that does not consume input (rule ",
                                    nfa_.rules_[r].name, ")");
          }
          if (color[callee] == 0) color[callee] = 1, stack.emplace_back(callee, 0);
        } else {
          color[state] = 2;
          stack.pop_back();
        }
      }
    }
    return Status::Ok();
  }

  // need[s]: the least extra stack depth with which s can still reach a rule end, computed in
  // layers k = 0, 1, ... (a call costs 1 + need(callee start), and its continuation must finish
  // within the same depth).
  void ComputeNeed() {
    const size_t n = sets_.size();
    const int num_classes = g_->num_classes_;
    std::vector<std::vector<uint32_t>> byte_preds(n), call_preds(n);
    for (size_t s = 1; s < n; ++s) {
      uint32_t last = 0;
      for (int c = 0; c < num_classes; ++c) {
        const uint32_t t = g_->next_[s * num_classes + c];
        if (t != 0 && t != last) byte_preds[t].push_back(static_cast<uint32_t>(s)), last = t;
      }
      for (const auto& call : state_calls_[s]) call_preds[call.on_return].push_back(s);
    }
    for (auto& preds : byte_preds) {
      std::sort(preds.begin(), preds.end());
      preds.erase(std::unique(preds.begin(), preds.end()), preds.end());
    }
    auto& need = g_->need_;
    need.assign(n, JsonGrammar::kUnreachableNeed);
    need[0] = JsonGrammar::kUnreachableNeed;
    std::vector<uint32_t> work;
    for (int k = 0; k <= limits_.max_stack_depth; ++k) {
      work.clear();
      for (size_t s = 1; s < n; ++s) {
        if (need[s] < k || (need[s] == JsonGrammar::kUnreachableNeed &&
                            (g_->flags_[s] & JsonGrammar::kFinal))) {
          if (need[s] == JsonGrammar::kUnreachableNeed) need[s] = static_cast<uint8_t>(k);
          work.push_back(static_cast<uint32_t>(s));
        }
      }
      // Calls whose callee is within k - 1 and whose continuation is already within k.
      auto call_ok = [&](uint32_t s, uint32_t on_return) {
        for (const auto& call : state_calls_[s]) {
          if (call.on_return == on_return && need[call.start] < k) return true;
        }
        return false;
      };
      bool added = false;
      while (!work.empty()) {
        const uint32_t t = work.back();
        work.pop_back();
        for (uint32_t s : byte_preds[t]) {
          if (need[s] == JsonGrammar::kUnreachableNeed) {
            need[s] = static_cast<uint8_t>(k), work.push_back(s), added = true;
          }
        }
        for (uint32_t s : call_preds[t]) {
          if (need[s] == JsonGrammar::kUnreachableNeed && call_ok(s, t)) {
            need[s] = static_cast<uint8_t>(k), work.push_back(s), added = true;
          }
        }
      }
      if (!added && k > 0) break;
    }
  }

  // Drops transitions and calls into states that cannot finish, sets flags and packs the calls.
  void Trim() {
    const size_t n = sets_.size();
    const int num_classes = g_->num_classes_;
    const auto& need = g_->need_;
    const int max_depth = limits_.max_stack_depth;
    g_->call_begin_.assign(n + 1, 0);
    g_->calls_.clear();
    for (size_t s = 0; s < n; ++s) {
      uint8_t flags = g_->flags_[s] & JsonGrammar::kFinal;
      for (int c = 0; c < num_classes; ++c) {
        uint32_t& t = g_->next_[s * num_classes + c];
        if (t != 0 && need[t] > max_depth) t = 0;
        if (t != 0) flags |= JsonGrammar::kHasBytes;
      }
      g_->call_begin_[s] = static_cast<uint32_t>(g_->calls_.size());
      if (need[s] <= max_depth) {
        for (const auto& call : state_calls_[s]) {
          if (need[call.start] + 1 <= max_depth && need[call.on_return] <= max_depth) {
            g_->calls_.push_back(call);
            flags |= JsonGrammar::kHasCalls;
          }
        }
      }
      if (need[s] > max_depth) flags = 0;
      g_->flags_[s] = flags;
    }
    g_->call_begin_[n] = static_cast<uint32_t>(g_->calls_.size());
    // Fast-path transitions: a plain target that needs no more stack than its source, so a viable
    // configuration stays viable without a check.
    for (size_t s = 0; s < n; ++s) {
      for (int c = 0; c < num_classes; ++c) {
        uint32_t& t = g_->next_[s * num_classes + c];
        if (t != 0 && g_->flags_[t] == JsonGrammar::kHasBytes && need[t] <= need[s]) {
          t |= JsonGrammar::kPlainBit;
        }
      }
    }
  }

  // free_chars(s) = 1 + min over every content character c of free_chars(state after c), when
  // every byte of every such character is a kPlainBit transition; else 0. Iterated to a fixed
  // point (capped at 255).
  void ComputeFreeChars() {
    const size_t n = sets_.size();
    const int num_classes = g_->num_classes_;
    CodepointSet content = CodepointSet::Range(0x20, kMaxCodepoint);
    content = content.Minus(CodepointSet::Single('"')).Minus(CodepointSet::Single('\\'));
    const auto sequences = Utf8ByteRanges(content);
    // ends[s]: the states after one whole character from s (empty: not all characters plain).
    std::vector<std::vector<uint32_t>> ends(n);
    std::vector<uint32_t> candidates;
    for (size_t s = 1; s < n; ++s) {
      bool ok = true;
      std::vector<uint32_t> frontier, next;
      std::vector<uint32_t>& out = ends[s];
      for (const auto& ranges : sequences) {
        frontier.assign(1, static_cast<uint32_t>(s));
        for (const auto& [lo, hi] : ranges) {
          next.clear();
          for (uint32_t state : frontier) {
            for (int c = g_->byte_class_[lo]; c <= g_->byte_class_[hi] && ok; ++c) {
              const uint32_t entry = g_->next_[static_cast<size_t>(state) * num_classes + c];
              if (!(entry & JsonGrammar::kPlainBit)) ok = false;
              next.push_back(entry & ~JsonGrammar::kPlainBit);
            }
          }
          if (!ok) break;
          std::sort(next.begin(), next.end());
          next.erase(std::unique(next.begin(), next.end()), next.end());
          std::swap(frontier, next);
        }
        if (!ok) break;
        out.insert(out.end(), frontier.begin(), frontier.end());
      }
      if (!ok) {
        out.clear();
        continue;
      }
      std::sort(out.begin(), out.end());
      out.erase(std::unique(out.begin(), out.end()), out.end());
      candidates.push_back(static_cast<uint32_t>(s));
    }
    auto& free = g_->free_chars_;
    free.assign(n, 0);
    for (int round = 0; round < 255; ++round) {
      bool changed = false;
      for (uint32_t s : candidates) {
        int lowest = 255;
        for (uint32_t e : ends[s]) lowest = std::min<int>(lowest, free[e]);
        const auto value = static_cast<uint8_t>(std::min(255, lowest + 1));
        if (value != free[s]) free[s] = value, changed = true;
      }
      if (!changed) break;
    }
  }

  struct VectorHash {
    size_t operator()(const std::vector<int>& v) const {
      uint64_t h = 1469598103934665603ull;
      for (int x : v) h = (h ^ static_cast<uint32_t>(x)) * 1099511628211ull;
      return static_cast<size_t>(h);
    }
  };

  // Memory bounds besides max_dfa_states: transition table cells (4 bytes each) and the NFA
  // state sets that identify DFA states during construction.
  static constexpr size_t kMaxTableCells = size_t{8} << 20;
  static constexpr size_t kMaxSubsetMembers = size_t{16} << 20;

  const ByteNfa& nfa_;
  const GrammarLimits& limits_;
  JsonGrammar* g_ = nullptr;
  size_t members_ = 0;  // sum of the NFA state-set sizes
  std::vector<uint32_t> stamp_;
  uint32_t current_stamp_ = 0;
  std::vector<int> is_end_;  // rule whose end this NFA state is, or -1
  std::vector<std::vector<int>> sets_;
  std::unordered_map<std::vector<int>, uint32_t, VectorHash> ids_;
  std::vector<std::vector<JsonGrammar::Call>> state_calls_;  // start = rule index until resolved
  std::vector<uint32_t> rule_start_;
  std::vector<std::vector<int>> targets_;  // Expand scratch: per byte class
  size_t next_unprocessed_ = 1;
};

StatusOr<std::shared_ptr<const JsonGrammar>> JsonGrammar::Build(const ByteNfa& nfa, int root,
                                                                const GrammarLimits& limits) {
  if (nfa.over_budget()) {
    return UnsupportedError("the schema's automaton exceeds ", limits.max_nfa_states,
                            " NFA states (large maxLength / maxItems / patterns or deep nesting)");
  }
  if (limits.max_stack_depth < 1 || limits.max_stack_depth > 200) {
    return InvalidArgumentError("max_stack_depth must be in [1, 200], got ",
                                limits.max_stack_depth);
  }
  Determinizer determinizer(nfa, limits);
  return determinizer.Run(root);
}

size_t JsonGrammar::MemoryBytes() const {
  return next_.size() * sizeof(uint32_t) + flags_.size() * 2 +
         call_begin_.size() * sizeof(uint32_t) + calls_.size() * sizeof(Call);
}

}  // namespace lfm2::json_grammar
