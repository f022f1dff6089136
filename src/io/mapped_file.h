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

  // Large read-only weights run markedly faster when the page cache holds the file in 2 MiB
  // folios, which the kernel maps with one page-table entry each (far fewer TLB misses: full-size
  // decode measured 24-28 -> 35-44 tok/s). Readahead through a MADV_HUGEPAGE mapping creates such
  // folios on kernels whose filesystem supports large folios; but a file that is already cached -
  // just downloaded or generated, or partly evicted and read back - can sit in 4 KiB pages.
  // PreferHugePages marks the mapping MADV_HUGEPAGE and finds the cached 2 MiB blocks that are
  // not one folio: all of them where the kernel can list them (mincore, one touch per cached
  // block, PAGEMAP_SCAN; Linux 6.7+), else by probing 8 blocks spread over the file. It drops one
  // such block from the page cache and touches it again; if it comes back huge, it drops the
  // others (or, after probing, the whole file) too, so that they are read back in 2 MiB folios as
  // the model touches them. Files under 8 MiB, kernels with transparent huge pages off, and
  // LFM2_HUGE_PAGES=0 in the environment leave it alone.
  enum class HugePages { kNotTried, kAlready, kRereading, kUnsupported };
  HugePages PreferHugePages() const;

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
