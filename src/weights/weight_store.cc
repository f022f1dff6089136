// weights/weight_store.cc - binding module paths to validated tensor views.
#include "weights/weight_store.h"

#include "weights/dtype.h"

namespace lfm2 {
namespace {

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::vector<int64_t> WithLeading(int64_t leading, std::vector<int64_t> shape) {
  if (leading > 0) shape.insert(shape.begin(), leading);
  return shape;
}

Status CheckShape(const TensorInfo& tensor, const std::vector<int64_t>& expected,
                  std::string_view why) {
  if (tensor.shape == expected) return Status::Ok();
  return InvalidArgumentError(tensor.name, ": ", DTypeName(tensor.dtype), " shape ",
                              tensor.ShapeString(), " expected ", ShapeText(expected), " from ", why);
}

}  // namespace

uint64_t WeightMatrix::StorageBytes() const {
  uint64_t bytes = static_cast<uint64_t>(rows) * row_bytes;
  if (quantized()) bytes += 2ull * static_cast<uint64_t>(rows) * scale_row_bytes;
  return bytes;
}

WeightMatrix ExpertStack::Expert(int64_t e) const {
  LFM2_DCHECK(e >= 0 && e < num_experts);
  WeightMatrix m = first;
  if (m.tiles != nullptr) {
    m.tiles += e * tiles_stride;
    return m;
  }
  m.data += e * data_stride;
  if (m.quantized()) {
    m.scales += e * scale_stride;
    m.biases += e * scale_stride;
  }
  return m;
}

StatusOr<std::unique_ptr<WeightStore>> WeightStore::Open(const std::string& dir,
                                                         const QuantizationConfig& quantization,
                                                         bool prefer_huge_pages) {
  auto store = std::unique_ptr<WeightStore>(new WeightStore());
  LFM2_ASSIGN_OR_RETURN(store->tensors_, SafetensorsSet::OpenDirectory(dir, prefer_huge_pages));
  store->quantization_ = quantization;
  return store;
}

StatusOr<const TensorInfo*> WeightStore::Take(const std::string& name) {
  const TensorInfo* tensor = tensors_->Find(name);
  if (tensor == nullptr) {
    return NotFoundError("tensor \"", name, "\" is missing from the checkpoint");
  }
  used_.insert(name);
  return tensor;
}

StatusOr<WeightMatrix> WeightStore::Bind(const std::string& path, int64_t leading, int64_t rows,
                                         int64_t cols, std::string_view why) {
  WeightMatrix m;
  m.name = path;
  m.rows = rows;
  m.cols = cols;
  LFM2_ASSIGN_OR_RETURN(const TensorInfo* weight, Take(path + ".weight"));
  const bool quantized = Has(path + ".scales");
  if (!quantized) {
    if (!IsFloatWeightType(weight->dtype)) {
      return UnsupportedError(weight->name, ": dtype ", DTypeName(weight->dtype),
                              " without a .scales tensor (expected F32, F16 or BF16 weights, or "
                              "an MLX-quantized U32 weight with .scales and .biases)");
    }
    LFM2_RETURN_IF_ERROR(CheckShape(*weight, WithLeading(leading, {rows, cols}), why));
    m.dtype = weight->dtype;
    m.data = weight->data;
    m.row_bytes = static_cast<size_t>(cols) * DTypeBits(weight->dtype) / 8;
    return m;
  }

  std::optional<QuantSpec> spec = quantization_.ForModule(path);
  if (!quantization_.present()) {
    return InvalidArgumentError(path, ".scales exists but config.json has no \"quantization\" "
                                "block giving its bits and group_size");
  }
  if (!spec) {
    return InvalidArgumentError(path, ".scales exists but config.json quantization[\"", path,
                                "\"] is false (not quantized)");
  }
  if (weight->dtype != DType::kU32) {
    return InvalidArgumentError(weight->name, ": quantized weight must be U32, got ",
                                DTypeName(weight->dtype));
  }
  if (cols % spec->group_size != 0) {
    return InvalidArgumentError(path, ": in_features ", cols, " (from ", why,
                                ") is not a multiple of group_size ", spec->group_size);
  }
  const std::string quant_why = StrCat(why, " at ", spec->bits, " bits, group_size ",
                                       spec->group_size);
  LFM2_RETURN_IF_ERROR(
      CheckShape(*weight, WithLeading(leading, {rows, spec->PackedWords(cols)}), quant_why));
  LFM2_ASSIGN_OR_RETURN(const TensorInfo* scales, Take(path + ".scales"));
  if (!Has(path + ".biases")) {
    return NotFoundError("tensor \"", path, ".biases\" is missing (MLX affine quantization stores "
                         "scales and biases)");
  }
  LFM2_ASSIGN_OR_RETURN(const TensorInfo* biases, Take(path + ".biases"));
  for (const TensorInfo* t : {scales, biases}) {
    if (!IsFloatWeightType(t->dtype)) {
      return UnsupportedError(t->name, ": dtype ", DTypeName(t->dtype),
                              " (affine scales and biases are F32, F16 or BF16)");
    }
    LFM2_RETURN_IF_ERROR(
        CheckShape(*t, WithLeading(leading, {rows, spec->Groups(cols)}), quant_why));
  }
  if (scales->dtype != biases->dtype) {
    return InvalidArgumentError(biases->name, ": dtype ", DTypeName(biases->dtype),
                                " differs from the scales' ", DTypeName(scales->dtype));
  }
  m.dtype = DType::kU32;
  m.data = weight->data;
  m.row_bytes = static_cast<size_t>(spec->PackedWords(cols)) * 4;
  m.quant = *spec;
  m.scales = scales->data;
  m.biases = biases->data;
  m.scale_dtype = scales->dtype;
  m.scale_row_bytes = static_cast<size_t>(spec->Groups(cols)) * DTypeBits(scales->dtype) / 8;
  return m;
}

StatusOr<WeightMatrix> WeightStore::Matrix(const std::string& path, int64_t rows, int64_t cols,
                                           std::string_view why) {
  return Bind(path, 0, rows, cols, why);
}

StatusOr<ExpertStack> WeightStore::Experts(const std::string& path, int64_t experts, int64_t rows,
                                           int64_t cols, std::string_view why) {
  ExpertStack stack;
  stack.num_experts = experts;
  LFM2_ASSIGN_OR_RETURN(stack.first, Bind(path, experts, rows, cols, why));
  stack.data_stride = stack.first.row_bytes * rows;
  stack.scale_stride = stack.first.scale_row_bytes * rows;
  return stack;
}

StatusOr<AlignedBuffer<float>> WeightStore::FloatTensor(
    const std::string& name, const std::vector<std::vector<int64_t>>& shapes, std::string_view why) {
  LFM2_ASSIGN_OR_RETURN(const TensorInfo* tensor, Take(name));
  if (!IsFloatWeightType(tensor->dtype)) {
    return UnsupportedError(name, ": dtype ", DTypeName(tensor->dtype),
                            " (expected F32, F16 or BF16)");
  }
  bool match = false;
  for (const auto& shape : shapes) match = match || tensor->shape == shape;
  if (!match) {
    std::string expected;
    for (const auto& shape : shapes) expected += (expected.empty() ? "" : " or ") + ShapeText(shape);
    return InvalidArgumentError(name, ": ", DTypeName(tensor->dtype), " shape ",
                                tensor->ShapeString(), " expected ", expected, " from ", why);
  }
  AlignedBuffer<float> values(static_cast<size_t>(tensor->num_elements()));
  ConvertToFloat(tensor->dtype, tensor->data, values.size(), values.data());
  return values;
}

Status WeightStore::CheckAllUsed() const {
  for (const auto& [name, tensor] : tensors_->tensors()) {
    if (used_.find(name) == used_.end()) {
      return InvalidArgumentError("tensor \"", name, "\" in ", tensor.file->path(),
                                  " is not used by this model's config (config/checkpoint "
                                  "mismatch?)");
    }
  }
  return Status::Ok();
}

void WeightStore::Release(const uint8_t* begin, size_t length) const {
  for (const auto& file : tensors_->files()) {
    const MappedFile& mapped = file->file();
    if (begin >= mapped.data() && begin < mapped.data() + mapped.size()) {
      mapped.Release(static_cast<size_t>(begin - mapped.data()), length);
      return;
    }
  }
}

}  // namespace lfm2
