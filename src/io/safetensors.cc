// io/safetensors.cc - safetensors header parsing and validation, and sharded checkpoint sets.
#include "io/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include "io/json.h"

namespace lfm2 {
namespace {

struct DTypeEntry {
  DType dtype;
  const char* name;
  int bits;
};

constexpr DTypeEntry kDTypes[] = {
    {DType::kBool, "BOOL", 8},       {DType::kU8, "U8", 8},
    {DType::kI8, "I8", 8},           {DType::kI16, "I16", 16},
    {DType::kU16, "U16", 16},        {DType::kI32, "I32", 32},
    {DType::kU32, "U32", 32},        {DType::kI64, "I64", 64},
    {DType::kU64, "U64", 64},        {DType::kF16, "F16", 16},
    {DType::kBF16, "BF16", 16},      {DType::kF32, "F32", 32},
    {DType::kF64, "F64", 64},        {DType::kF8E4M3, "F8_E4M3", 8},
    {DType::kF8E5M2, "F8_E5M2", 8},  {DType::kF8E8M0, "F8_E8M0", 8},
    {DType::kF8E4M3Fnuz, "F8_E4M3FNUZ", 8}, {DType::kF8E5M2Fnuz, "F8_E5M2FNUZ", 8},
    {DType::kF4, "F4", 4},           {DType::kF6E2M3, "F6_E2M3", 6},
    {DType::kF6E3M2, "F6_E3M2", 6},  {DType::kC64, "C64", 64},
};

const DTypeEntry& Entry(DType dtype) {
  for (const DTypeEntry& entry : kDTypes) {
    if (entry.dtype == dtype) return entry;
  }
  LFM2_CHECK_MSG(false, "unknown DType value");
  return kDTypes[0];
}

std::string KnownDTypeNames() {
  std::string names;
  for (const DTypeEntry& entry : kDTypes) names += (names.empty() ? "" : ", ") + std::string(entry.name);
  return names;
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

// Parses one tensor entry of the header into `info` (without data pointers).
Status ParseTensorEntry(const std::string& name, const Json& entry, uint64_t data_size,
                        std::string_view source, TensorInfo* info, uint64_t* begin) {
  const std::string where = StrCat(source, ": tensor \"", name, "\"");
  if (!entry.is_object()) {
    return DataLossError(where, ": expected an object with dtype/shape/data_offsets, got ",
                         JsonTypeName(entry));
  }
  LFM2_ASSIGN_OR_RETURN(std::string dtype_name, GetString(entry, "dtype", where));
  info->name = name;
  if (!ParseDType(dtype_name, &info->dtype)) {
    return DataLossError(where, ": unknown dtype \"", dtype_name, "\" (expected one of ",
                         KnownDTypeNames(), ")");
  }
  const Json* shape = FindMember(entry, "shape");
  if (shape == nullptr) return DataLossError(where, ": missing \"shape\"");
  LFM2_ASSIGN_OR_RETURN(info->shape, GetIntArray(*shape, where + " shape"));
  uint64_t elements = 1;
  for (int64_t dim : info->shape) {
    if (dim < 0) return DataLossError(where, ": negative dimension in shape ", ShapeText(info->shape));
    if (__builtin_mul_overflow(elements, static_cast<uint64_t>(dim), &elements)) {
      return DataLossError(where, ": shape ", ShapeText(info->shape), " overflows 64 bits");
    }
  }
  const Json* offsets_json = FindMember(entry, "data_offsets");
  if (offsets_json == nullptr) return DataLossError(where, ": missing \"data_offsets\"");
  LFM2_ASSIGN_OR_RETURN(std::vector<int64_t> offsets, GetIntArray(*offsets_json, where + " data_offsets"));
  if (offsets.size() != 2 || offsets[0] < 0 || offsets[1] < offsets[0]) {
    return DataLossError(where, ": data_offsets must be [begin, end] with 0 <= begin <= end, got ",
                         DumpJson(*offsets_json));
  }
  uint64_t bits = 0;
  if (__builtin_mul_overflow(elements, static_cast<uint64_t>(DTypeBits(info->dtype)), &bits) ||
      bits % 8 != 0) {
    return DataLossError(where, ": shape ", ShapeText(info->shape), " of ", dtype_name,
                         " is not a whole number of bytes");
  }
  const uint64_t expected_bytes = bits / 8;
  const uint64_t got_bytes = static_cast<uint64_t>(offsets[1] - offsets[0]);
  if (got_bytes != expected_bytes) {
    return DataLossError(where, ": shape ", ShapeText(info->shape), " of ", dtype_name, " needs ",
                         expected_bytes, " bytes, data_offsets [", offsets[0], ", ", offsets[1],
                         "] hold ", got_bytes);
  }
  if (static_cast<uint64_t>(offsets[1]) > data_size) {
    return DataLossError(where, ": data_offsets [", offsets[0], ", ", offsets[1],
                         "] run past the end of the data area (", data_size, " bytes)");
  }
  info->bytes = got_bytes;
  *begin = static_cast<uint64_t>(offsets[0]);
  return Status::Ok();
}

}  // namespace

const char* DTypeName(DType dtype) { return Entry(dtype).name; }
int DTypeBits(DType dtype) { return Entry(dtype).bits; }
bool ParseDType(std::string_view name, DType* dtype) {
  for (const DTypeEntry& entry : kDTypes) {
    if (name == entry.name) {
      *dtype = entry.dtype;
      return true;
    }
  }
  return false;
}

int64_t TensorInfo::num_elements() const {
  int64_t n = 1;
  for (int64_t dim : shape) n *= dim;
  return n;
}

std::string TensorInfo::ShapeString() const { return ShapeText(shape); }

StatusOr<std::vector<TensorInfo>> SafetensorsFile::ParseHeader(
    std::span<const uint8_t> bytes, std::string_view source,
    std::map<std::string, std::string>* metadata) {
  if (bytes.size() < 8) {
    return DataLossError(source, ": file is ", bytes.size(),
                         " bytes, too short for the 8-byte safetensors header length");
  }
  uint64_t header_bytes = 0;
  for (int i = 7; i >= 0; --i) header_bytes = (header_bytes << 8) | bytes[i];
  if (header_bytes > kMaxHeaderBytes) {
    return DataLossError(source, ": header length ", header_bytes, " exceeds the limit of ",
                         kMaxHeaderBytes, " bytes (not a safetensors file?)");
  }
  if (header_bytes > bytes.size() - 8) {
    return DataLossError(source, ": header length ", header_bytes,
                         " runs past the end of the file (", bytes.size(), " bytes; truncated?)");
  }
  const std::string_view header(reinterpret_cast<const char*>(bytes.data() + 8), header_bytes);
  if (header.empty() || header[0] != '{') {
    return DataLossError(source, ": header does not start with '{' (not a safetensors file?)");
  }
  auto parsed = ParseJson(header, StrCat(source, " header"));
  if (!parsed.ok()) return DataLossError(parsed.status().message());
  const Json& root = *parsed;
  if (!root.is_object()) return DataLossError(source, ": header is not a JSON object");

  const uint64_t data_size = bytes.size() - 8 - header_bytes;
  const uint8_t* data_start = bytes.data() + 8 + header_bytes;
  std::vector<TensorInfo> tensors;
  std::vector<uint64_t> begins;
  tensors.reserve(root.size());
  for (auto it = root.begin(); it != root.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it.value().is_object()) {
        return DataLossError(source, ": __metadata__ must be an object of strings, got ",
                             JsonTypeName(it.value()));
      }
      for (auto m = it.value().begin(); m != it.value().end(); ++m) {
        if (!m.value().is_string()) {
          return DataLossError(source, ": __metadata__ value \"", m.key(), "\" must be a string, got ",
                               JsonTypeName(m.value()));
        }
        if (metadata != nullptr) (*metadata)[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    TensorInfo info;
    uint64_t begin = 0;
    LFM2_RETURN_IF_ERROR(ParseTensorEntry(it.key(), it.value(), data_size, source, &info, &begin));
    info.data = data_start + begin;
    info.file_offset = 8 + header_bytes + begin;
    tensors.push_back(std::move(info));
    begins.push_back(begin);
  }

  // No two tensors may share bytes. Sort by start; empty tensors occupy nothing.
  std::vector<size_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return begins[a] < begins[b]; });
  const TensorInfo* previous = nullptr;
  uint64_t previous_end = 0;
  for (size_t index : order) {
    const TensorInfo& tensor = tensors[index];
    if (tensor.bytes == 0) continue;
    if (previous != nullptr && begins[index] < previous_end) {
      return DataLossError(source, ": tensor \"", tensor.name, "\" (bytes ", begins[index], "..",
                           begins[index] + tensor.bytes, ") overlaps tensor \"", previous->name,
                           "\" (bytes ", previous_end - previous->bytes, "..", previous_end, ")");
    }
    previous = &tensor;
    previous_end = begins[index] + tensor.bytes;
  }
  return tensors;
}

StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path,
                                                                 bool prefer_huge_pages) {
  auto file = std::make_unique<SafetensorsFile>();
  LFM2_ASSIGN_OR_RETURN(file->file_, MappedFile::Open(path));
  LFM2_ASSIGN_OR_RETURN(file->tensors_,
                        ParseHeader(std::span<const uint8_t>(file->file_->data(), file->file_->size()),
                                    path, &file->metadata_));
  for (TensorInfo& tensor : file->tensors_) tensor.file = file->file_.get();
  if (prefer_huge_pages) file->file_->PreferHugePages();
  return file;
}

const TensorInfo* SafetensorsSet::Find(std::string_view name) const {
  auto it = tensors_.find(name);
  return it == tensors_.end() ? nullptr : &it->second;
}

std::vector<std::string> SafetensorsSet::file_paths() const {
  std::vector<std::string> paths;
  for (const auto& file : files_) paths.push_back(file->path());
  return paths;
}

uint64_t SafetensorsSet::total_bytes() const {
  uint64_t total = 0;
  for (const auto& [name, tensor] : tensors_) total += tensor.bytes;
  return total;
}

StatusOr<std::unique_ptr<SafetensorsSet>> SafetensorsSet::OpenDirectory(const std::string& dir,
                                                                        bool prefer_huge_pages) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    return NotFoundError(dir, ": not a directory");
  }
  auto set = std::make_unique<SafetensorsSet>();
  const std::string index_path = (fs::path(dir) / "model.safetensors.index.json").string();
  std::vector<std::string> shard_names;
  Json weight_map;
  if (fs::exists(index_path, error)) {
    set->has_index_ = true;
    LFM2_ASSIGN_OR_RETURN(Json index, ReadJsonFile(index_path));
    const Json* map = FindMember(index, "weight_map");
    if (map == nullptr || !map->is_object()) {
      return DataLossError(index_path, ": expected an object \"weight_map\" (tensor name -> shard file)");
    }
    weight_map = *map;
    std::set<std::string> seen;
    for (auto it = weight_map.begin(); it != weight_map.end(); ++it) {
      if (!it.value().is_string()) {
        return DataLossError(index_path, ": weight_map[\"", it.key(), "\"] must be a file name, got ",
                             JsonTypeName(it.value()));
      }
      const std::string shard = it.value().get<std::string>();
      if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == "..") {
        return DataLossError(index_path, ": weight_map[\"", it.key(), "\"] = \"", shard,
                             "\" is not a file name in the model directory");
      }
      if (seen.insert(shard).second) {
        if (!fs::is_regular_file(fs::path(dir) / shard, error)) {
          return NotFoundError(index_path, ": tensor \"", it.key(), "\" points at shard \"", shard,
                               "\", which does not exist in ", dir);
        }
        shard_names.push_back(shard);
      }
    }
    if (shard_names.empty()) return DataLossError(index_path, ": weight_map is empty");
  } else {
    for (const auto& entry : fs::directory_iterator(dir, error)) {
      if (entry.path().extension() == ".safetensors" && entry.is_regular_file(error)) {
        shard_names.push_back(entry.path().filename().string());
      }
    }
    std::sort(shard_names.begin(), shard_names.end());
    if (shard_names.empty()) {
      return NotFoundError(dir, ": no model.safetensors.index.json and no *.safetensors files");
    }
  }

  for (const std::string& shard : shard_names) {
    LFM2_ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open((fs::path(dir) / shard).string(), prefer_huge_pages));
    for (const TensorInfo& tensor : file->tensors()) {
      auto [it, inserted] = set->tensors_.emplace(tensor.name, tensor);
      if (!inserted) {
        return DataLossError("tensor \"", tensor.name, "\" is in both ", it->second.file->path(),
                             " and ", file->path());
      }
      if (set->has_index_) {
        const Json* listed = FindMember(weight_map, tensor.name);
        if (listed == nullptr || listed->get<std::string>() != shard) {
          return DataLossError(index_path, ": shard \"", shard, "\" holds tensor \"", tensor.name,
                               "\", which the weight_map ",
                               listed == nullptr ? std::string("does not list")
                                                 : "assigns to \"" + listed->get<std::string>() + "\"");
        }
      }
    }
    set->files_.push_back(std::move(file));
  }
  if (set->has_index_) {
    for (auto it = weight_map.begin(); it != weight_map.end(); ++it) {
      if (set->tensors_.find(it.key()) == set->tensors_.end()) {
        return DataLossError(index_path, ": tensor \"", it.key(), "\" is listed in shard \"",
                             it.value().get<std::string>(), "\", which does not contain it");
      }
    }
  }
  return set;
}

}  // namespace lfm2
