// io/mapped_file.h - read-only memory mapping of a whole file. Weights are used in place from the
// mapping (MAP_PRIVATE, PROT_READ): loading a checkpoint costs page-table entries, not copies.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"

namespace lfm2 {

class MappedFile {
 public:
  static StatusOr<std::unique_ptr<MappedFile>> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Hints the kernel that [offset, offset+length) will be read soon (MADV_WILLNEED).
  void WillNeed(size_t offset, size_t length) const;
  // Drops [offset, offset+length) from this process's resident set (MADV_DONTNEED); the bytes
  // stay readable and are paged back in from the file if touched again.
  void Release(size_t offset, size_t length) const;

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}
  std::string path_;
  const uint8_t* data_;
  size_t size_;
};

}  // namespace lfm2
