// tokenizer/pre_tokenizer.cc - Split / ByteLevel / Sequence pre-tokenizers (see pre_tokenizer.h).
#include "tokenizer/pre_tokenizer.h"

#include <algorithm>

#include "tokenizer/byte_level.h"

namespace lfm2::tokenizer {
namespace {

// GPT-2's pattern, used by ByteLevel when use_regex is true (HF byte_level.rs).
constexpr char kGpt2Pattern[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

StatusOr<SplitBehavior> ParseBehavior(const std::string& name, std::string_view where) {
  if (name == "Removed") return SplitBehavior::kRemoved;
  if (name == "Isolated") return SplitBehavior::kIsolated;
  if (name == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return SplitBehavior::kMergedWithNext;
  if (name == "Contiguous") return SplitBehavior::kContiguous;
  return InvalidArgumentError(
      where, ".behavior: unknown value \"", name,
      "\" (Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous)");
}

}  // namespace

namespace {

// The merging behaviours, as HF's Pattern::find_matches + NormalizedString::split: returns the
// kept non-empty [start, end) ranges.
std::vector<std::pair<size_t, size_t>> MergedSplits(const Regex& regex, std::string_view text,
                                                    SplitBehavior behavior, bool invert) {
  struct Part {
    size_t start, end;
    bool is_match;
  };
  // find_matches: matches and the gaps between them, covering the text.
  std::vector<Part> parts;
  Regex::FindState state;
  Regex::Match m;
  size_t prev = 0;
  while (regex.FindNext(text, &state, &m)) {
    if (prev != m.start) parts.push_back({prev, m.start, false});
    parts.push_back({m.start, m.end, true});
    prev = m.end;
  }
  if (prev != text.size()) parts.push_back({prev, text.size(), false});
  if (invert) {
    for (Part& part : parts) part.is_match = !part.is_match;
  }
  std::vector<Part> splits;
  bool previous_match = false;
  if (behavior == SplitBehavior::kMergedWithNext) {
    for (size_t i = parts.size(); i-- > 0;) {
      const Part& part = parts[i];
      if (part.is_match && !previous_match && !splits.empty()) {
        splits.back().start = part.start;
      } else {
        splits.push_back(part);
      }
      previous_match = part.is_match;
    }
    std::reverse(splits.begin(), splits.end());
  } else {
    for (const Part& part : parts) {
      const bool merge = behavior == SplitBehavior::kContiguous
                             ? part.is_match == previous_match
                             : part.is_match && !previous_match;  // kMergedWithPrevious
      if (merge && !splits.empty()) {
        splits.back().end = part.end;
      } else {
        splits.push_back(part);
      }
      previous_match = part.is_match;
    }
  }
  std::vector<std::pair<size_t, size_t>> kept;
  for (const Part& split : splits) {
    if (split.end > split.start) kept.emplace_back(split.start, split.end);
  }
  return kept;
}

// Calls emit(start, end) for each kept non-empty range of `text`, in order. Isolated and Removed
// stream straight from the matcher (the hot path); the merging behaviours collect first.
template <typename Emit>
void ForEachSplit(const Regex& regex, std::string_view text, SplitBehavior behavior, bool invert,
                  Emit&& emit) {
  if (behavior != SplitBehavior::kIsolated && behavior != SplitBehavior::kRemoved) {
    for (const auto& [start, end] : MergedSplits(regex, text, behavior, invert)) emit(start, end);
    return;
  }
  // Removed drops the matches (or, inverted, the gaps between them).
  const bool keep_matches = behavior == SplitBehavior::kIsolated || invert;
  const bool keep_gaps = behavior == SplitBehavior::kIsolated || !invert;
  Regex::FindState state;
  Regex::Match m;
  size_t prev = 0;
  while (regex.FindNext(text, &state, &m)) {
    if (keep_gaps && m.start > prev) emit(prev, m.start);
    if (keep_matches && m.end > m.start) emit(m.start, m.end);
    prev = m.end;
  }
  if (keep_gaps && prev < text.size()) emit(prev, text.size());
}

}  // namespace

std::vector<std::pair<size_t, size_t>> SplitByRegex(const Regex& regex, std::string_view text,
                                                    SplitBehavior behavior, bool invert) {
  std::vector<std::pair<size_t, size_t>> kept;
  ForEachSplit(regex, text, behavior, invert,
               [&](size_t start, size_t end) { kept.emplace_back(start, end); });
  return kept;
}

StatusOr<PreTokenizer> PreTokenizer::FromJson(const Json& value, std::string_view where) {
  PreTokenizer pre_tokenizer;
  LFM2_RETURN_IF_ERROR(Parse(value, std::string(where), &pre_tokenizer.steps_));
  return pre_tokenizer;
}

Status PreTokenizer::Parse(const Json& value, const std::string& where, std::vector<Step>* steps) {
  if (value.is_null()) return Status::Ok();
  if (!value.is_object()) {
    return InvalidArgumentError(where, ": expected an object, got ", JsonTypeName(value));
  }
  LFM2_ASSIGN_OR_RETURN(std::string type, GetString(value, "type", where));
  if (type == "Sequence") {
    const Json* children = FindMember(value, "pretokenizers");
    if (children == nullptr || !children->is_array()) {
      return InvalidArgumentError(where, ": Sequence needs a \"pretokenizers\" array");
    }
    for (size_t i = 0; i < children->size(); ++i) {
      LFM2_RETURN_IF_ERROR(Parse((*children)[i], StrCat(where, ".pretokenizers[", i, "]"), steps));
    }
    return Status::Ok();
  }
  if (type == "Split") {
    Step step{Step::Kind::kSplit, Regex()};
    const Json* pattern = FindMember(value, "pattern");
    if (pattern == nullptr || !pattern->is_object() || pattern->size() != 1) {
      return InvalidArgumentError(where,
                                  ".pattern: expected {\"Regex\": ...} or {\"String\": ...}");
    }
    if (const Json* regex = FindMember(*pattern, "Regex"); regex != nullptr && regex->is_string()) {
      auto compiled = Regex::FromOniguruma(regex->get<std::string>());
      if (!compiled.ok()) return compiled.status().WithContext(StrCat(where, ".pattern"));
      step.regex = std::move(compiled).value();
    } else if (const Json* text = FindMember(*pattern, "String");
               text != nullptr && text->is_string()) {
      auto compiled = Regex::FromLiteral(text->get<std::string>());
      if (!compiled.ok()) return compiled.status().WithContext(StrCat(where, ".pattern"));
      step.regex = std::move(compiled).value();
    } else {
      return InvalidArgumentError(where,
                                  ".pattern: expected {\"Regex\": string} or {\"String\": string}");
    }
    LFM2_ASSIGN_OR_RETURN(std::string behavior, GetString(value, "behavior", where));
    LFM2_ASSIGN_OR_RETURN(step.behavior, ParseBehavior(behavior, where));
    LFM2_ASSIGN_OR_RETURN(step.invert, FindBool(value, "invert", false, where));
    steps->push_back(std::move(step));
    return Status::Ok();
  }
  if (type == "ByteLevel") {
    Step step{Step::Kind::kByteLevel, Regex()};
    // HF's defaults when a key is absent: add_prefix_space true, use_regex true.
    LFM2_ASSIGN_OR_RETURN(step.add_prefix_space, FindBool(value, "add_prefix_space", true, where));
    LFM2_ASSIGN_OR_RETURN(step.use_regex, FindBool(value, "use_regex", true, where));
    if (step.use_regex) {
      auto compiled = Regex::FromOniguruma(kGpt2Pattern);
      LFM2_CHECK_MSG(compiled.ok(), "the GPT-2 pattern must compile");
      step.regex = std::move(compiled).value();
    }
    steps->push_back(std::move(step));
    return Status::Ok();
  }
  return UnsupportedError(where, ": unsupported type \"", type,
                          "\" (supported: Sequence, Split, ByteLevel)");
}

bool PreTokenizer::has_byte_level() const {
  for (const Step& step : steps_) {
    if (step.kind == Step::Kind::kByteLevel) return true;
  }
  return false;
}

void PreTokenizer::Run(std::string_view text, const Sink& sink) const {
  if (!text.empty()) RunFrom(0, text, /*byte_mapped=*/false, sink);
}

void PreTokenizer::RunFrom(size_t index, std::string_view piece, bool byte_mapped,
                           const Sink& sink) const {
  if (index == steps_.size()) {
    sink(piece, byte_mapped);
    return;
  }
  if (byte_mapped) {  // a later step works on the mapped characters: materialize them
    std::string mapped;
    AppendByteLevel(piece, &mapped);
    RunFrom(index, mapped, /*byte_mapped=*/false, sink);
    return;
  }
  const Step& step = steps_[index];
  if (step.kind == Step::Kind::kSplit) {
    ForEachSplit(step.regex, piece, step.behavior, step.invert, [&](size_t start, size_t end) {
      RunFrom(index + 1, piece.substr(start, end - start), false, sink);
    });
    return;
  }
  // ByteLevel: optional prefix space, optional GPT-2 split, then the byte mapping (deferred).
  std::string prefixed;
  if (step.add_prefix_space && piece.front() != ' ') {
    prefixed.reserve(piece.size() + 1);
    prefixed += ' ';
    prefixed += piece;
    piece = prefixed;
  }
  if (!step.use_regex) {
    RunFrom(index + 1, piece, /*byte_mapped=*/true, sink);
    return;
  }
  ForEachSplit(step.regex, piece, SplitBehavior::kIsolated, false, [&](size_t start, size_t end) {
    RunFrom(index + 1, piece.substr(start, end - start), /*byte_mapped=*/true, sink);
  });
}

}  // namespace lfm2::tokenizer
