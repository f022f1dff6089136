// io/safetensors.h - safetensors files (single or sharded) as validated, memory-mapped tensors.
// Everything in a header is checked before any tensor is handed out: header length bounds, JSON,
// dtype names, shape x dtype size = byte range, offsets inside the file, no overlaps; for sharded
// sets, index entries pointing at existing shards and tensors. Data are used in place: MLX writes
// unpadded headers, so tensor data are only byte-aligned - readers must not assume alignment.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "io/mapped_file.h"

namespace lfm2 {

// Element types a safetensors header may name. kUnknown never leaves the parser.
enum class DType {
  kBool, kU8, kI8, kI16, kU16, kI32, kU32, kI64, kU64,
  kF16, kBF16, kF32, kF64,
  kF8E4M3, kF8E5M2, kF8E8M0, kF8E4M3Fnuz, kF8E5M2Fnuz, kF4, kF6E2M3, kF6E3M2, kC64,
};

// The safetensors spelling ("BF16", "U32", ...).
const char* DTypeName(DType dtype);
// Bits per element (4 for F4, 6 for F6_*; a whole number of bytes for the rest).
int DTypeBits(DType dtype);
bool ParseDType(std::string_view name, DType* dtype);

// One tensor of a mapped file. `data` points into the mapping and stays valid as long as the
// SafetensorsFile (or SafetensorsSet) that produced it.
struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // outermost first, as in the header
  const uint8_t* data = nullptr;
  size_t bytes = 0;
  const MappedFile* file = nullptr;
  size_t file_offset = 0;  // absolute offset of data in the file

  int64_t num_elements() const;
  std::string ShapeString() const;  // "[6144, 192]"
};

class SafetensorsFile {
 public:
  // Header size limit, as in the reference reader.
  static constexpr uint64_t kMaxHeaderBytes = 100'000'000;

  // Maps and validates `path`. Errors name the file and the offending tensor/field. With
  // prefer_huge_pages, asks for the weights in 2 MiB page-cache folios (MappedFile::PreferHugePages);
  // pointless when the tensors are about to be copied out (the tiled layout).
  static StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path,
                                                         bool prefer_huge_pages = true);
  // Validates an in-memory image (used by Open and by the fuzzer); `bytes` must outlive the
  // returned tensors.
  static StatusOr<std::vector<TensorInfo>> ParseHeader(std::span<const uint8_t> bytes,
                                                       std::string_view source,
                                                       std::map<std::string, std::string>* metadata);

  const std::string& path() const { return file_->path(); }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const MappedFile& file() const { return *file_; }

 private:
  std::unique_ptr<MappedFile> file_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::string> metadata_;
};

// All tensors of a checkpoint directory: the shards named by model.safetensors.index.json when it
// exists, otherwise every *.safetensors file in the directory. Names are unique across shards.
class SafetensorsSet {
 public:
  static StatusOr<std::unique_ptr<SafetensorsSet>> OpenDirectory(const std::string& dir,
                                                                  bool prefer_huge_pages = true);

  // nullptr when absent.
  const TensorInfo* Find(std::string_view name) const;
  const std::map<std::string, TensorInfo, std::less<>>& tensors() const { return tensors_; }
  // The files read, in the order they were opened (shown by `lfm2 inspect`).
  std::vector<std::string> file_paths() const;
  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }
  // Sum of all tensor bytes.
  uint64_t total_bytes() const;
  bool has_index() const { return has_index_; }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, TensorInfo, std::less<>> tensors_;
  bool has_index_ = false;
};

}  // namespace lfm2
