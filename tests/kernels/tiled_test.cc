// The tiled layout (kernels/tiled.h): the dispatched writer equals the scalar definition on every
// target; reading the tiles back gives the file's codes, scales and biases; and both matmul paths
// on a tiled matrix equal, bit for bit, the scalar twins on the file layout, on every target (the
// AVX3_DL kernels read the tiles natively, the others element by element).
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/aligned_buffer.h"
#include "kernels/matmul.h"
#include "kernels/quant.h"
#include "kernels/targets.h"
#include "kernels/tiled.h"
#include "kernels/weight_fixture.h"

namespace lfm2::kernels {
namespace {

using testing::RandomMatrix;

struct Tiled {
  AlignedBuffer<uint8_t> bytes;
  WeightMatrix view;
};

// w in the tiled layout, written by `scalar` TileRowsScalar or the dispatched TileRows, in two
// calls (tiles [0, half) and [half, all)) to cover partial ranges.
Tiled Tile(const WeightMatrix& w, bool scalar) {
  Tiled t;
  const TiledShape s = TiledShapeOf(w);
  t.bytes = AlignedBuffer<uint8_t>(s.tiles * s.tile_bytes);
  std::memset(t.bytes.data(), 0xA5, t.bytes.size());  // the writer must set every byte
  const size_t half = s.tiles / 2;
  for (auto [begin, end] : {std::pair<size_t, size_t>{0, half}, {half, s.tiles}}) {
    if (scalar) {
      TileRowsScalar(w, begin, end, t.bytes.data());
    } else {
      TileRows(w, begin, end, t.bytes.data());
    }
  }
  t.view = w;
  t.view.tiles = t.bytes.data();
  t.view.data = t.view.scales = t.view.biases = nullptr;
  return t;
}

void ExpectSameBits(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(std::memcmp(&got[i], &want[i], 4), 0) << what << ": element " << i << " got " << got[i]
                                                   << " want " << want[i];
  }
}

struct Shape {
  int64_t rows, cols;
};

TEST(TiledTest, ShapeCoversTheFileBytesPlusZeroRows) {
  std::mt19937 rng(3);
  auto m = RandomMatrix(37, 192, 3, 64, DType::kBF16, rng);
  const TiledShape s = TiledShapeOf(m.view);
  EXPECT_EQ(s.tiles, 3u);
  EXPECT_EQ(s.per_unit, 2u);
  EXPECT_EQ(s.unit_bytes, 48u);
  EXPECT_EQ(s.group_bytes, 8 * 48u + 64u);
  // 48 rows (37 + 11 zero rows) x (72 code bytes + 3 scales + 3 biases of 2 bytes).
  EXPECT_EQ(TiledBytes(m.view), 48u * (72 + 12));
  auto f32 = RandomMatrix(16, 128, 5, 32, DType::kF32, rng);
  EXPECT_EQ(TiledBytes(f32.view), 16u * (80 + 4 * 4 * 2));
  EXPECT_FALSE(Tileable(RandomMatrix(16, 128, 0, 0, DType::kF32, rng).view));  // float weights
}

TEST(TiledTest, WriterEqualsScalarDefinitionAndReadsBackOnEveryTarget) {
  testing::ForEachTarget([&](int64_t) {
    std::mt19937 rng(11);
    for (DType dtype : {DType::kBF16, DType::kF16, DType::kF32}) {
      for (int bits : {2, 3, 4, 5, 6, 8}) {
        for (int group : {32, 64, 128}) {
          for (Shape shape : {Shape{1, 128}, Shape{16, group == 32 ? 96 : 256}, Shape{37, 384}, Shape{33, 1792}}) {
            if (shape.cols % group != 0) continue;
            SCOPED_TRACE(::testing::Message() << "bits " << bits << " group " << group << " "
                                              << DTypeName(dtype) << " " << shape.rows << "x" << shape.cols);
            auto m = RandomMatrix(shape.rows, shape.cols, bits, group, dtype, rng, /*offset=*/bits);
            ASSERT_TRUE(Tileable(m.view));
            Tiled want = Tile(m.view, /*scalar=*/true), got = Tile(m.view, /*scalar=*/false);
            for (size_t i = 0; i < want.bytes.size(); ++i) {
              ASSERT_EQ(got.bytes[i], want.bytes[i]) << "tile byte " << i << " of " << want.bytes.size();
            }
            std::vector<uint8_t> file_codes(shape.cols), tiled_codes(shape.cols);
            std::vector<float> file_row(shape.cols), tiled_row(shape.cols);
            for (int64_t r = 0; r < shape.rows; ++r) {
              RowCodes(m.view, r, file_codes.data());
              RowCodes(got.view, r, tiled_codes.data());
              ASSERT_EQ(tiled_codes, file_codes) << "row " << r;
              for (int64_t g = 0; g < shape.cols / group; ++g) {
                ASSERT_EQ(RowScale(got.view, r, g), RowScale(m.view, r, g)) << "row " << r << " group " << g;
                ASSERT_EQ(RowBias(got.view, r, g), RowBias(m.view, r, g)) << "row " << r << " group " << g;
              }
              DequantizeRow(m.view, r, file_row.data());
              DequantizeRow(got.view, r, tiled_row.data());
              ExpectSameBits(tiled_row, file_row, "dequantized row " + std::to_string(r));
            }
          }
        }
      }
    }
  });
}

TEST(TiledTest, PaddingRowsAreZero) {
  std::mt19937 rng(5);
  auto m = RandomMatrix(17, 128, 4, 64, DType::kBF16, rng);
  Tiled t = Tile(m.view, /*scalar=*/false);
  // Rows 17..31 of the second tile read as code 0 with scale and bias 0.
  WeightMatrix padded = t.view;
  padded.rows = 32;
  std::vector<uint8_t> codes(128);
  for (int64_t r = 17; r < 32; ++r) {
    RowCodes(padded, r, codes.data());
    EXPECT_EQ(codes, std::vector<uint8_t>(128, 0)) << "row " << r;
    EXPECT_EQ(RowScale(padded, r, 1), 0.0f);
    EXPECT_EQ(RowBias(padded, r, 1), 0.0f);
  }
}

struct Case {
  int64_t rows, cols;
  size_t tokens;
};

TEST(TiledTest, MatMulOnTilesEqualsScalarTwinsOnTheFileLayoutOnEveryTarget) {
  ThreadPool pool(2);
  testing::ForEachTarget([&](int64_t) {
    std::mt19937 rng(23);
    for (DType dtype : {DType::kBF16, DType::kF16, DType::kF32}) {
      for (int bits : {2, 3, 4, 5, 6, 8}) {
        for (int group : {32, 64, 128}) {
          // Token counts 1..4 (one pass of the tiled matrix-vector kernel), 5 and 7 (two passes),
          // 8+ (the matrix-matrix kernel, partial token blocks); partial tiles; half 64-code chunks.
          for (Case c : {Case{1, 128, 1}, Case{17, group * 3, 2}, Case{37, 384, 3}, Case{16, 256, 4},
                         Case{21, group == 32 ? 96 : 256, 5}, Case{33, 1792, 7}, Case{5, 256, 8},
                         Case{40, 384, 33}}) {
            if (c.cols % group != 0) continue;
            SCOPED_TRACE(::testing::Message() << "bits " << bits << " group " << group << " "
                                              << DTypeName(dtype) << " " << c.rows << "x" << c.cols
                                              << " tokens " << c.tokens);
            auto m = RandomMatrix(c.rows, c.cols, bits, group, dtype, rng, /*offset=*/1 + bits);
            Tiled t = Tile(m.view, /*scalar=*/true);
            const size_t x_stride = c.cols + 3, y_stride = c.rows + 2;
            std::normal_distribution<float> normal(0.0f, 1.0f);
            std::vector<float> x(c.tokens * x_stride + 1);
            for (float& v : x) v = normal(rng);
            const float* xp = x.data() + 1;
            std::vector<float> want(c.tokens * y_stride, -7.0f), got(want);
            for (MatMulPath path : {MatMulPath::kFast, MatMulPath::kFast8}) {
              std::fill(want.begin(), want.end(), -7.0f);
              std::fill(got.begin(), got.end(), -7.0f);
              scalar::MatMulFast(m.view, xp, x_stride, c.tokens, want.data(), y_stride,
                                 path == MatMulPath::kFast8);
              MatMul(t.view, xp, x_stride, c.tokens, got.data(), y_stride, pool, path);
              ExpectSameBits(got, want, path == MatMulPath::kFast8 ? "fast8 on tiles vs twin on file"
                                                                    : "fast on tiles vs twin on file");
            }
            if (c.tokens <= 2) {
              std::fill(want.begin(), want.end(), -7.0f);
              std::fill(got.begin(), got.end(), -7.0f);
              MatMul(m.view, xp, x_stride, c.tokens, want.data(), y_stride, pool, MatMulPath::kPrecise);
              MatMul(t.view, xp, x_stride, c.tokens, got.data(), y_stride, pool, MatMulPath::kPrecise);
              ExpectSameBits(got, want, "precise on tiles vs precise on file");
            }
          }
        }
      }
    }
  });
}

}  // namespace
}  // namespace lfm2::kernels
