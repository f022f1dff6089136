// The forward pass against the external goldens in ../shared/golden (logits of an independent
// implementation, greedy continuations), on the precise and both fast paths, plus the consistency
// properties: decode == prefill, any chunking, threads, batching.
#include <random>

#include <gtest/gtest.h>

#include "io/json.h"
#include "kernels/targets.h"
#include "model/model_util.h"
#include "model/tiling.h"

namespace lfm2 {
namespace {

using testing::Compare;
using testing::RunOptions;
using testing::RunSequence;
using kernels::MatMulPath;

constexpr MatMulPath kAllPaths[] = {MatMulPath::kPrecise, MatMulPath::kFast, MatMulPath::kFast8};

const char* PathName(MatMulPath path) {
  return path == MatMulPath::kPrecise ? "precise" : path == MatMulPath::kFast ? "fast" : "fast8";
}

class GoldenTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    auto model = Lfm2Model::Load(GetParam() + "/model");
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    model_ = std::move(model).value();
    tokens_ = testing::ReadIds(GetParam() + "/tokens.txt");
    golden_ = testing::ReadFloats(GetParam() + "/logits.f32");
    ASSERT_EQ(golden_.size(), tokens_.size() * model_->config().vocab_size);
  }
  // All-position logits of the case's tokens on `path` with a `kv_type` cache, 2 threads.
  std::vector<float> Run(MatMulPath path, kernels::KvType kv_type = kernels::KvType::kF32) const {
    RunOptions options;
    options.path = path;
    options.kv_type = kv_type;
    options.threads = 2;
    return RunSequence(*model_, tokens_, options);
  }
  std::unique_ptr<Lfm2Model> model_;
  std::vector<int32_t> tokens_;
  std::vector<float> golden_;
};

TEST_P(GoldenTest, PreciseLogitsMatch) {
  const auto got = RunSequence(*model_, tokens_, RunOptions{});
  const auto a = Compare(got, golden_, model_->config().vocab_size);
  EXPECT_LE(a.max_rel, 1e-3);
  EXPECT_GE(a.top1, 0.99);
  RecordProperty("max_rel", std::to_string(a.max_rel));
}

// The default (16-bit) fast path within its budget: mean relative L2 <= 1e-2, top-1 >= 97%.
TEST_P(GoldenTest, FastLogitsMatch) {
  const auto a = Compare(Run(MatMulPath::kFast), golden_, model_->config().vocab_size);
  EXPECT_LE(a.mean_rel, 1e-2);
  EXPECT_LE(a.max_rel, 5e-2);
  EXPECT_GE(a.top1, 0.97);
  RecordProperty("mean_rel", std::to_string(a.mean_rel));
}

// The default path as lfm2 runs it - 16-bit activations, float16 KV cache - within the budget
// (measured mean rel-L2 1e-4..2.5e-4, as with a float32 cache). The int8 cache (--kv-bits 8)
// measures 2.7e-3..1.1e-2 with top-1 >= 98.75% but one position of moe_q4_g64 at 0.17 (an expert
// choice flipped, see EightBitLogitsStayClose): its bounds only catch a broken cache.
TEST_P(GoldenTest, SmallerKvCachesMatch) {
  for (kernels::KvType kv_type : {kernels::KvType::kF16, kernels::KvType::kQ8}) {
    const bool f16 = kv_type == kernels::KvType::kF16;
    const char* name = f16 ? "f16" : "int8";
    const auto got = Run(MatMulPath::kFast, kv_type);
    const auto a = Compare(got, golden_, model_->config().vocab_size);
    EXPECT_LE(a.mean_rel, f16 ? 1e-2 : 5e-2) << name;
    if (f16) {
      EXPECT_LE(a.max_rel, 5e-2);
    }
    EXPECT_GE(a.top1, f16 ? 0.97 : 0.95) << name;
    RecordProperty(std::string(name) + "_mean_rel", std::to_string(a.mean_rel));
    RecordProperty(std::string(name) + "_top1", std::to_string(a.top1));
    // Chunking and decode still give the same bits as one pass.
    RunOptions chunked;
    chunked.path = MatMulPath::kFast;
    chunked.kv_type = kv_type;
    chunked.chunks = {1, 7, 64};
    EXPECT_EQ(RunSequence(*model_, tokens_, chunked), got) << name << ": chunked";
  }
}

// 8-bit activations are outside that budget on these random-weight models: an error of ~5e-3
// per product changes the selected experts wherever the routing gap is small (the cases have
// gaps down to 1e-4) and random networks amplify every difference, so the MoE cases measure
// mean relative L2 0.10-0.12 and top-1 83-94% (the dense case has float weights: precise); on
// the bundled trained model the same path changes perplexity by 0.03% (tests/models). The bounds
// here only catch a kernel that is wrong (a broken product gives relative errors near 1); the
// path's exactness is tested against its scalar twin (tests/kernels).
TEST_P(GoldenTest, EightBitLogitsStayClose) {
  const auto a = Compare(Run(MatMulPath::kFast8), golden_, model_->config().vocab_size);
  EXPECT_LE(a.mean_rel, 0.25);
  EXPECT_GE(a.top1, 0.75);
  RecordProperty("mean_rel", std::to_string(a.mean_rel));
}

TEST_P(GoldenTest, GreedyContinuationMatches) {
  const std::vector<int32_t> want = testing::ReadIds(GetParam() + "/greedy.txt");
  // Not the 8-bit path: see EightBitLogitsStayClose (its decode equals its prefill below).
  for (MatMulPath path : {MatMulPath::kPrecise, MatMulPath::kFast}) {
    const ModelConfig& c = model_->config();
    const int64_t capacity = static_cast<int64_t>(tokens_.size() + want.size());
    Workspace ws(c, WorkspaceLimits{static_cast<int64_t>(tokens_.size()), 1, capacity, 2});
    SequenceState state(c, capacity);
    ThreadPool pool(2);
    ForwardChunk prompt{&state, tokens_, false};
    model_->Forward({&prompt, 1}, ws, pool, path);
    std::vector<int32_t> got;
    for (size_t i = 0; i < want.size(); ++i) {
      const int32_t next = static_cast<int32_t>(testing::ArgMax(ws.logits.data(), c.vocab_size));
      got.push_back(next);
      ForwardChunk step{&state, std::span<const int32_t>(&got.back(), 1), false};
      model_->Forward({&step, 1}, ws, pool, path);
    }
    EXPECT_EQ(got, want) << PathName(path);
  }
}

// Token-by-token decode and every prefill chunking agree with one-shot prefill (bit-exact: each
// logit is computed by the same operations whatever the chunking), for sequences up to 300.
TEST_P(GoldenTest, DecodeAndChunkingMatchPrefill) {
  std::mt19937 rng(17);
  const int64_t vocab = model_->config().vocab_size;
  std::vector<int32_t> tokens(300);
  for (auto& t : tokens) t = static_cast<int32_t>(rng() % vocab);
  for (MatMulPath path : kAllPaths) {
    RunOptions whole;
    whole.path = path;
    const auto reference = RunSequence(*model_, tokens, whole);
    for (std::vector<int64_t> chunks : {std::vector<int64_t>{1}, {7}, {64, 1, 3}, {299, 1}, {150}}) {
      RunOptions options = whole;
      options.chunks = chunks;
      const auto got = RunSequence(*model_, tokens, options);
      const auto a = Compare(got, reference, vocab);
      EXPECT_LE(a.max_rel, path == MatMulPath::kPrecise ? 1e-4 : 1e-2) << "chunk " << chunks[0];
      EXPECT_EQ(got, reference) << "chunk " << chunks[0] << " not bit-identical";
    }
  }
}

TEST_P(GoldenTest, ThreadCountDoesNotChangeBits) {
  for (MatMulPath path : kAllPaths) {
    RunOptions one, two;
    one.path = two.path = path;
    two.threads = 2;
    one.chunks = two.chunks = {33};
    EXPECT_EQ(RunSequence(*model_, tokens_, one), RunSequence(*model_, tokens_, two));
  }
}

// The tiled layout (model/tiling.h) changes where the weights live, not one bit of the results:
// the same model loaded with and without it gives identical logits on both paths and with
// either kernel the token count selects. (The fixture's model is tiled where the CPU prefers it.)
TEST_P(GoldenTest, TiledLayoutDoesNotChangeBits) {
  auto untiled = Lfm2Model::Load(GetParam() + "/model", /*tile=*/false);
  ASSERT_TRUE(untiled.ok()) << untiled.status().ToString();
  ASSERT_FALSE((*untiled)->tiled());
  // Tiled exactly when wanted and something is quantized (float checkpoints have nothing to tile).
  EXPECT_EQ(model_->tiled(), TilingWanted() && model_->config().quantization.present());
  for (MatMulPath path : kAllPaths) {
    RunOptions options;
    options.path = path;
    options.threads = 2;
    options.chunks = {1, 1, 3, 9, 20};  // matrix-vector passes of 1 and 3 tokens, matrix-matrix
    EXPECT_EQ(RunSequence(*model_, tokens_, options), RunSequence(**untiled, tokens_, options))
        << PathName(path);
  }
}

// On every SIMD target this CPU runs (each forced in turn), the fast path passes the golden
// comparison, and the tiled layout gives the same bits as the file layout. (Across targets the
// bits differ: norms, softmax and attention reduce in target-wide vectors.)
TEST_P(GoldenTest, FastPathMatchesOnEveryTarget) {
  auto untiled = Lfm2Model::Load(GetParam() + "/model", /*tile=*/false);
  ASSERT_TRUE(untiled.ok()) << untiled.status().ToString();
  for (MatMulPath path : {MatMulPath::kFast, MatMulPath::kFast8}) {
    const bool eight = path == MatMulPath::kFast8;  // bounds as EightBitLogitsStayClose
    RunOptions options;
    options.path = path;
    options.threads = 2;
    options.chunks = {1, 4, 16};
    testing::ForEachTarget([&](int64_t) {
      const auto got = RunSequence(*model_, tokens_, options);
      const auto a = Compare(got, golden_, model_->config().vocab_size);
      EXPECT_LE(a.mean_rel, eight ? 0.25 : 1e-2) << PathName(path);
      if (!eight) {
        EXPECT_LE(a.max_rel, 5e-2);
      }
      EXPECT_GE(a.top1, eight ? 0.75 : 0.97) << PathName(path);
      EXPECT_EQ(RunSequence(**untiled, tokens_, options), got) << PathName(path) << ": file layout vs model as loaded";
    });
  }
}

// Two sequences in one Forward call give exactly what each gives alone.
TEST_P(GoldenTest, BatchOfTwoEqualsTwoSingles) {
  const ModelConfig& c = model_->config();
  const std::vector<int32_t> a(tokens_.begin(), tokens_.begin() + 40);
  const std::vector<int32_t> b(tokens_.rbegin(), tokens_.rbegin() + 25);
  const auto alone_a = RunSequence(*model_, a, RunOptions{});
  const auto alone_b = RunSequence(*model_, b, RunOptions{});
  Workspace ws(c, WorkspaceLimits{65, 65, 40, 2});
  SequenceState sa(c, 40), sb(c, 40);
  ThreadPool pool(2);
  ForwardChunk chunks[] = {{&sa, a, true}, {&sb, b, true}};
  ASSERT_TRUE(model_->CheckChunks(chunks, ws).ok());
  ASSERT_EQ(model_->Forward(chunks, ws, pool, MatMulPath::kPrecise), 65);
  const float* logits = ws.logits.data();
  EXPECT_EQ(std::vector<float>(logits, logits + 40 * c.vocab_size), alone_a);
  EXPECT_EQ(std::vector<float>(logits + 40 * c.vocab_size, logits + 65 * c.vocab_size), alone_b);
}

std::string CaseName(const ::testing::TestParamInfo<std::string>& info) {
  return std::filesystem::path(info.param).filename().string();
}

INSTANTIATE_TEST_SUITE_P(SharedGolden, GoldenTest, ::testing::ValuesIn(testing::GoldenModelCases()),
                         CaseName);

TEST(GoldenCasesTest, SharedGoldensArePresent) {
  EXPECT_GE(testing::GoldenModelCases().size(), 3u) << "looked in " << testing::SharedDir();
}

}  // namespace
}  // namespace lfm2
