// weights/weight_store.h - typed, validated views of a checkpoint's tensors by module path.
// A module is quantized exactly when `<path>.scales` exists; its bits and group size come from
// the config's quantization block (per-module override, else global) and must agree with the
// tensor shapes. Views point into the mmap'd files: nothing is copied except small float vectors
// (norm weights, conv kernels, biases), which are converted to f32 once.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/aligned_buffer.h"
#include "base/status.h"
#include "io/safetensors.h"
#include "weights/quantization.h"

namespace lfm2 {

// A linear layer's weight, [rows = out_features, cols = in_features], floating point (F32, F16,
// BF16) or MLX affine quantized (packed U32 rows + per-group scales and biases). Row r starts at
// data + r * row_bytes; quantized element k of row r is q = bits [k*bits, (k+1)*bits) of the
// row's little-endian bit stream and its value is scale[r][k/g] * q + bias[r][k/g].
struct WeightMatrix {
  std::string name;  // module path, e.g. "model.layers.3.conv.in_proj"
  int64_t rows = 0;
  int64_t cols = 0;
  DType dtype = DType::kF32;  // element type when not quantized
  const uint8_t* data = nullptr;
  size_t row_bytes = 0;
  QuantSpec quant;  // bits == 0: not quantized
  const uint8_t* scales = nullptr;  // [rows, cols / group_size]
  const uint8_t* biases = nullptr;  // [rows, cols / group_size]
  DType scale_dtype = DType::kF32;
  size_t scale_row_bytes = 0;
  // When non-null, the quantized matrix lives here in the kernels' tiled layout
  // (kernels/tiled.h) instead: data, scales and biases are then null, and row_bytes and
  // scale_row_bytes keep describing the file layout's sizes.
  const uint8_t* tiles = nullptr;

  bool quantized() const { return quant.bits != 0; }
  // Bytes of the packed/float weights plus scales and biases.
  uint64_t StorageBytes() const;
};

// Stacked expert weights [num_experts, rows, cols] (MLX `switch_mlp.*` tensors).
struct ExpertStack {
  int64_t num_experts = 0;
  WeightMatrix first;        // expert 0
  size_t data_stride = 0;    // bytes between experts' weights
  size_t scale_stride = 0;   // bytes between experts' scales (and biases)
  size_t tiles_stride = 0;   // bytes between experts' tiles (when first.tiles is set)

  WeightMatrix Expert(int64_t e) const;
  uint64_t StorageBytes() const { return first.StorageBytes() * num_experts; }
};

class WeightStore {
 public:
  // prefer_huge_pages: see SafetensorsFile::Open.
  static StatusOr<std::unique_ptr<WeightStore>> Open(const std::string& dir,
                                                     const QuantizationConfig& quantization,
                                                     bool prefer_huge_pages = true);

  // The weight of module `path` with shape [rows, cols]; `why` says where the expected shape
  // comes from ("hidden_size=2048") for error messages.
  StatusOr<WeightMatrix> Matrix(const std::string& path, int64_t rows, int64_t cols,
                                std::string_view why);
  // Stacked experts [experts, rows, cols] of module `path`.
  StatusOr<ExpertStack> Experts(const std::string& path, int64_t experts, int64_t rows,
                                int64_t cols, std::string_view why);
  // A float tensor (F32/F16/BF16) converted to f32. `shapes` lists the accepted shapes (they must
  // all have the same element order, e.g. [H, 3, 1] and [H, 1, 3]).
  StatusOr<AlignedBuffer<float>> FloatTensor(const std::string& name,
                                             const std::vector<std::vector<int64_t>>& shapes,
                                             std::string_view why);

  bool Has(std::string_view name) const { return tensors_->Find(name) != nullptr; }
  // Declares a tensor deliberately unused (e.g. an lm_head.weight a tied config ignores).
  void Ignore(const std::string& name) { used_.insert(name); }
  // Fails naming the first tensor that no Matrix/Experts/FloatTensor call consumed.
  Status CheckAllUsed() const;

  const SafetensorsSet& tensors() const { return *tensors_; }
  // Drops the whole pages of [begin, begin + length) - bytes of one mapped file - from this
  // process's resident set (MappedFile::Release); for tensors copied elsewhere. No-op for
  // addresses outside the files.
  void Release(const uint8_t* begin, size_t length) const;
  const QuantizationConfig& quantization() const { return quantization_; }

 private:
  StatusOr<const TensorInfo*> Take(const std::string& name);
  // Shared by Matrix and Experts: `leading` is the expert count or 0 for a plain matrix.
  StatusOr<WeightMatrix> Bind(const std::string& path, int64_t leading, int64_t rows, int64_t cols,
                              std::string_view why);

  std::unique_ptr<SafetensorsSet> tensors_;
  QuantizationConfig quantization_;
  std::set<std::string, std::less<>> used_;
};

}  // namespace lfm2
