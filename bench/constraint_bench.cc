// bench/constraint_bench.cc - cost of JSON-schema constrained decoding on a 65,536-token
// vocabulary: trie build, schema compile, and the per-step mask (trie walk) with the mask cache
// off (every step walks) and on (as generation runs it), plus applying the mask to the logits.
// The vocabulary is the golden LFM2-shaped tokenizer's tokens plus concatenations of two of them
// (what BPE merges produce) and some random multilingual strings, up to 65,536 ids.
//
//   constraint_bench [shared_dir] [steps]
#include <algorithm>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "io/json.h"
#include "sampling/json_schema.h"
#include "sampling/sampler.h"
#include "tokenizer/tokenizer.h"

namespace {

// Thread CPU time: the machine may be shared, and descheduled time is not the walk's cost.
struct Clock {
  using time_point = double;
  static double now() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec * 1e-3;
  }
};

double Micros(double a, double b) { return b - a; }

std::vector<std::string> SyntheticVocabulary(const lfm2::Tokenizer& tokenizer, int32_t size,
                                             std::vector<int32_t>* stops) {
  std::vector<std::string> tokens(tokenizer.vocab_size());
  std::vector<std::string> pieces;
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) {
    if (tokenizer.IsValidId(id) && !tokenizer.IsSpecial(id)) {
      tokens[id] = std::string(tokenizer.TokenBytes(id));
      if (!tokens[id].empty()) pieces.push_back(tokens[id]);
    }
  }
  if (auto eos = tokenizer.eos_id()) stops->push_back(*eos);
  std::set<std::string> seen(tokens.begin(), tokens.end());
  lfm2::Random rng(1234);
  const char* scripts[] = {"\xE6\x97\xA5\xE6\x9C\xAC", "\xD0\xBF\xD1\x80\xD0\xB8", "\xC3\xA9",
                           "\xCE\xB1\xCE\xB2", "\xF0\x9F\x98\x80", "\xE0\xA4\xA8"};
  while (static_cast<int32_t>(tokens.size()) < size) {
    std::string word;
    if (rng.Uniform() < 0.9) {
      word = pieces[rng.Next() % pieces.size()] + pieces[rng.Next() % pieces.size()];
      if (word.size() > 16) word.resize(16);  // may cut UTF-8: real vocabularies have such tokens
    } else {
      const int n = 1 + static_cast<int>(rng.Next() % 3);
      for (int i = 0; i < n; ++i) word += scripts[rng.Next() % 6];
    }
    if (seen.insert(word).second) tokens.push_back(word);
  }
  return tokens;
}

struct Stats {
  double total = 0, max = 0;
  int n = 0;
  void Add(double us) {
    total += us;
    max = std::max(max, us);
    ++n;
  }
  double mean() const { return n ? total / n : 0; }
};

// Runs `steps` random-walk steps (uniform among allowed tokens, steering to the end late) and
// times the mask computation per step.
void Run(const char* name, const lfm2::Json* schema, std::shared_ptr<const lfm2::TokenVocabulary> vocab,
         int steps) {
  lfm2::JsonSchemaOptions options;
  const auto t0 = Clock::now();
  auto grammar = schema ? lfm2::CompileJsonSchema(*schema, options) : lfm2::CompileJsonObjectGrammar(options);
  const auto t1 = Clock::now();
  if (!grammar.ok()) {
    std::printf("%-18s compile error: %s\n", name, grammar.status().ToString().c_str());
    return;
  }
  lfm2::JsonSchemaConstraint cached(*grammar, vocab), uncached(*grammar, vocab);
  uncached.matcher().set_cache_enabled(false);
  lfm2::Random rng(7);
  Stats walk, with_cache, apply;
  std::vector<float> logits(vocab->size());
  std::vector<int32_t> allowed;
  int documents = 0;
  for (int step = 0; step < steps; ++step) {
    auto a = Clock::now();
    const auto& bits = uncached.AllowedTokens();
    auto b = Clock::now();
    walk.Add(Micros(a, b));
    if (getenv("SLOW") && Micros(a, b) > 1500) std::printf("  slow %.0f us after [%s]\n", Micros(a, b), uncached.text().substr(uncached.text().size() > 60 ? uncached.text().size() - 60 : 0).c_str());
    a = Clock::now();
    (void)cached.AllowedTokens();
    b = Clock::now();
    with_cache.Add(Micros(a, b));
    std::fill(logits.begin(), logits.end(), 0.0f);
    a = Clock::now();
    cached.Mask(logits);
    b = Clock::now();
    apply.Add(Micros(a, b));
    allowed.clear();
    for (int32_t id = 0; id < vocab->size(); ++id) {
      if ((bits[id >> 6] >> (id & 63)) & 1) allowed.push_back(id);
    }
    int32_t pick;
    if (uncached.Complete()) {
      pick = vocab->stop_ids()[0];
    } else if (step % 200 > 150) {  // steer to the end now and then, to cover whole documents
      const auto rest = uncached.matcher().ShortestCompletion();
      pick = allowed[rng.Next() % allowed.size()];
      for (int32_t id : allowed) {
        if (rest && vocab->bytes(id) == rest->substr(0, 1)) pick = id;
      }
    } else {
      pick = allowed[rng.Next() % allowed.size()];
    }
    if (!uncached.Accept(pick).ok() || !cached.Accept(pick).ok()) {
      std::printf("%s: accept failed\n", name);
      return;
    }
    if (vocab->IsStop(pick)) {
      ++documents;
      uncached.Reset();
      cached.Reset();
    }
  }
  std::printf("%-18s compile %7.1f ms  %6zu DFA states  mask walk mean %6.0f us max %6.0f us | "
              "cached mean %5.0f us | apply %3.0f us | %d docs\n",
              name, Micros(t0, t1) / 1000.0, (*grammar)->num_states(), walk.mean(), walk.max,
              with_cache.mean(), apply.mean(), documents);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string shared = argc > 1 ? argv[1] : LFM2_SHARED_DIR_DEFAULT;
  const int steps = argc > 2 ? std::atoi(argv[2]) : 2000;
  auto tokenizer = lfm2::Tokenizer::FromDirectory(shared + "/golden/tokenizer");
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "%s\n", tokenizer.status().ToString().c_str());
    return 1;
  }
  std::vector<int32_t> stops;
  std::vector<std::string> tokens = SyntheticVocabulary(*tokenizer, 65536, &stops);
  const auto t0 = Clock::now();
  auto vocab = lfm2::TokenVocabulary::Create(tokens, stops);
  const auto t1 = Clock::now();
  std::printf("vocabulary: %d tokens, trie %zu nodes, build %.1f ms\n", vocab->size(),
              vocab->trie().size(), Micros(t0, t1) / 1000.0);

  const char* schemas[][2] = {
      {"person", R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},
                   "email":{"type":"string","format":"email"},"tags":{"type":"array","items":{"type":"string"}}},
                   "required":["name","age","tags"]})"},
      {"bounded_strings", R"({"type":"array","items":{"type":"object","properties":{"id":{"type":"string","maxLength":300},
                   "note":{"type":"string","minLength":5,"maxLength":100}},"required":["id","note"]}})"},
      {"numbers", R"({"type":"array","items":{"anyOf":[{"type":"number"},{"type":"integer","minimum":-100,"maximum":100000}]}})"},
      {"ambiguous_refs", R"({"$defs":{"a":{"type":"string"},"b":{"type":"string","maxLength":100},"c":{"type":"object","properties":{"x":{"type":"string"}}}},
                   "type":"array","items":{"anyOf":[{"$ref":"#/$defs/a"},{"$ref":"#/$defs/b"},{"$ref":"#/$defs/c"}]}})"},
      {"recursive", R"({"$defs":{"n":{"type":"object","properties":{"v":{"type":"string"},"kids":{"type":"array","items":{"$ref":"#/$defs/n"}}},"required":["v"]}},"$ref":"#/$defs/n"})"},
  };
  for (const auto& [name, text] : schemas) {
    auto schema = lfm2::ParseJson(text, name);
    if (!schema.ok()) return 1;
    Run(name, &*schema, vocab, steps);
  }
  Run("json_object", nullptr, vocab, steps);
  return 0;
}
