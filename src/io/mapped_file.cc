// io/mapped_file.cc - mmap/munmap wrappers with errno-based error messages.
#include "io/mapped_file.h"

#include <fcntl.h>
#include <linux/types.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <vector>

namespace lfm2 {

StatusOr<std::unique_ptr<MappedFile>> MappedFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    if (error == ENOENT) return NotFoundError(path, ": no such file");
    return IoError(path, ": cannot open: ", std::strerror(error));
  }
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    return IoError(path, ": cannot stat: ", std::strerror(error));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    return InvalidArgumentError(path, ": not a regular file");
  }
  const size_t size = static_cast<size_t>(info.st_size);
  const uint8_t* data = nullptr;
  if (size > 0) {
    void* mapped = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapped == MAP_FAILED) {
      const int error = errno;
      ::close(fd);
      return IoError(path, ": mmap of ", size, " bytes failed: ", std::strerror(error));
    }
    data = static_cast<const uint8_t*>(mapped);
  }
  ::close(fd);  // the mapping keeps the file referenced
  return std::unique_ptr<MappedFile>(new MappedFile(path, data, size));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

namespace {
// madvise needs a page-aligned start; widen the range outward to whole pages... except for
// Release, which must only drop pages fully inside the range, so it narrows inward.
void Advise(const uint8_t* base, size_t file_size, size_t offset, size_t length, int advice,
            bool inward) {
  if (base == nullptr || length == 0 || offset >= file_size) return;
  length = std::min(length, file_size - offset);
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  uintptr_t begin = reinterpret_cast<uintptr_t>(base + offset);
  uintptr_t end = begin + length;
  if (inward) {
    begin = (begin + page - 1) / page * page;
    end = end / page * page;
  } else {
    begin = begin / page * page;
    end = (end + page - 1) / page * page;
  }
  if (begin >= end) return;
  ::madvise(reinterpret_cast<void*>(begin), end - begin, advice);
}
}  // namespace

void MappedFile::WillNeed(size_t offset, size_t length) const {
  Advise(data_, size_, offset, length, MADV_WILLNEED, /*inward=*/false);
}

void MappedFile::Release(size_t offset, size_t length) const {
  Advise(data_, size_, offset, length, MADV_DONTNEED, /*inward=*/true);
}

namespace {
constexpr size_t kHugePage = size_t{2} << 20;
constexpr size_t kProbes = 8;

// FilePmdMapped (bytes) of the mapping that contains `address`, from /proc/self/smaps; -1 when
// it cannot be read.
int64_t FilePmdMappedBytes(const void* address) {
  std::ifstream smaps("/proc/self/smaps");
  if (!smaps) return -1;
  const uintptr_t target = reinterpret_cast<uintptr_t>(address);
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    unsigned long begin = 0, end = 0;
    // A mapping's header line starts with "begin-end " in hex; field lines start with a name.
    if (std::sscanf(line.c_str(), "%lx-%lx ", &begin, &end) == 2 && line.find('-') < line.find(' ')) {
      inside = target >= begin && target < end;
      continue;
    }
    unsigned long kb = 0;
    if (inside && std::sscanf(line.c_str(), "FilePmdMapped: %lu kB", &kb) == 1) {
      return static_cast<int64_t>(kb) * 1024;
    }
  }
  return -1;
}

bool TransparentHugePagesOff() {
  std::ifstream enabled("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string text;
  return !enabled || !std::getline(enabled, text) || text.find("[never]") != std::string::npos;
}

// PAGEMAP_SCAN (Linux 6.7+; Debian 12's headers predate it, so its ABI is spelled out here):
// the ranges of a mapping whose pages are in a given category, here mapped by a huge entry.
struct PageRegion {
  __u64 start, end, categories;
};
struct PageMapScanArg {
  __u64 size, flags, start, end, walk_end, vec, vec_len, max_pages, category_inverted,
      category_mask, category_anyof_mask, return_mask;
};
constexpr unsigned long kPageMapScan = _IOWR('f', 16, PageMapScanArg);
constexpr __u64 kPageIsHuge = 1 << 6;

// Offsets of the whole 2 MiB blocks of [data, data + size) (data 2 MiB aligned) that are in the
// page cache, at least in part, but not in one 2 MiB folio; nullopt when the kernel cannot tell.
// Each cached block is touched once (mapped, whole if it is one folio) and looked up with one
// PAGEMAP_SCAN; the caller unmaps them again. Uncached blocks are never read.
std::optional<std::vector<size_t>> CachedSmallBlocks(const uint8_t* data, size_t size) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t blocks = size / kHugePage;
  std::vector<unsigned char> resident((blocks * kHugePage + page - 1) / page);
  if (blocks == 0 || ::mincore(const_cast<uint8_t*>(data), blocks * kHugePage, resident.data()) != 0) {
    return std::nullopt;
  }
  const size_t pages_per_block = kHugePage / page;
  std::vector<bool> cached(blocks, false);
  for (size_t b = 0; b < blocks; ++b) {
    for (size_t i = 0; i < pages_per_block; ++i) {
      if (resident[b * pages_per_block + i] & 1) {
        cached[b] = true;
        (void)*static_cast<const volatile uint8_t*>(data + b * kHugePage + i * page);
        break;
      }
    }
  }
  const int pagemap = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (pagemap < 0) return std::nullopt;
  std::vector<bool> huge(blocks, false);
  std::vector<PageRegion> regions(256);
  bool ok = true;
  for (__u64 start = reinterpret_cast<uintptr_t>(data), end = start + blocks * kHugePage; start < end;) {
    PageMapScanArg arg{};
    arg.size = sizeof(arg);
    arg.start = start;
    arg.end = end;
    arg.vec = reinterpret_cast<uintptr_t>(regions.data());
    arg.vec_len = regions.size();
    arg.category_mask = kPageIsHuge;
    arg.return_mask = kPageIsHuge;
    const long found = ::ioctl(pagemap, kPageMapScan, &arg);
    if (found < 0) {
      ok = false;
      break;
    }
    for (long r = 0; r < found; ++r) {
      const size_t first = (regions[r].start - reinterpret_cast<uintptr_t>(data)) / kHugePage;
      const size_t last = (regions[r].end - reinterpret_cast<uintptr_t>(data)) / kHugePage;
      for (size_t b = first; b < last && b < blocks; ++b) huge[b] = true;
    }
    // A full vector ends the walk early; walk_end says where to go on.
    if (arg.walk_end <= start) break;
    start = arg.walk_end;
  }
  ::close(pagemap);
  if (!ok) return std::nullopt;
  std::vector<size_t> small;
  for (size_t b = 0; b < blocks; ++b) {
    if (cached[b] && !huge[b]) small.push_back(b * kHugePage);
  }
  return small;
}

// Reads one byte of each 4 KiB page of the block (faulting it in).
void Touch(const uint8_t* block, size_t bytes) {
  for (size_t offset = 0; offset < bytes; offset += 4096) {
    (void)*static_cast<const volatile uint8_t*>(block + offset);
  }
}
}  // namespace

MappedFile::HugePages MappedFile::PreferHugePages() const {
  const char* env = std::getenv("LFM2_HUGE_PAGES");
  if (env != nullptr && std::strcmp(env, "0") == 0) return HugePages::kNotTried;
  const uintptr_t base = reinterpret_cast<uintptr_t>(data_);
  if (data_ == nullptr || size_ < 4 * kHugePage || base % kHugePage != 0 || TransparentHugePagesOff()) {
    return HugePages::kNotTried;
  }
  if (::madvise(const_cast<uint8_t*>(data_), size_, MADV_HUGEPAGE) != 0) return HugePages::kNotTried;
  // Whether the block at `offset` is mapped with one 2 MiB entry once touched: 1, 0, or -1 when
  // /proc/self/smaps cannot tell. (Unmapped here first, so the count's change is this block's.)
  auto block_is_huge = [&](size_t offset) {
    const uint8_t* block = data_ + offset;
    Release(offset, kHugePage);
    const int64_t before = FilePmdMappedBytes(block);
    Touch(block, kHugePage);
    const int64_t after = FilePmdMappedBytes(block);
    if (before < 0 || after < 0) return -1;
    return after - before >= static_cast<int64_t>(kHugePage) ? 1 : 0;
  };
  // The cached blocks not in 2 MiB folios: every one where the kernel can list them (a cache can
  // be part huge, part not: written in small pieces, or partly evicted and read back); else
  // probes of whole blocks spread over the file, any small one standing for the whole file.
  const std::optional<std::vector<size_t>> listed = CachedSmallBlocks(data_, size_);
  Release(0, size_);  // the blocks it touched
  size_t offset = size_;
  if (listed.has_value()) {
    if (listed->empty()) return HugePages::kAlready;
    offset = listed->front();
  } else {
    const size_t blocks = size_ / kHugePage;
    const size_t probes = std::min<size_t>(kProbes, blocks);
    for (size_t p = 0; p < probes && offset == size_; ++p) {
      const size_t block_offset = blocks * (2 * p + 1) / (2 * probes) * kHugePage;
      const int huge = block_is_huge(block_offset);
      if (huge < 0) return HugePages::kUnsupported;
      if (huge == 0) offset = block_offset;
    }
    if (offset == size_) return HugePages::kAlready;
  }
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return HugePages::kUnsupported;
  // That block written back (a dirty page cannot be dropped) and dropped from the cache: does it
  // come back huge?
  ::sync_file_range(fd, static_cast<off_t>(offset), static_cast<off_t>(kHugePage),
                    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
  Release(offset, kHugePage);
  ::posix_fadvise(fd, static_cast<off_t>(offset), static_cast<off_t>(kHugePage), POSIX_FADV_DONTNEED);
  const bool huge = block_is_huge(offset) == 1;
  if (huge && listed.has_value()) {
    // Just the listed blocks: our own mapping first (a page still mapped here would stay
    // cached), then the cache.
    for (const size_t block : *listed) {
      Release(block, kHugePage);
      ::posix_fadvise(fd, static_cast<off_t>(block), static_cast<off_t>(kHugePage), POSIX_FADV_DONTNEED);
    }
  } else if (huge) {
    Release(0, size_);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  }
  Release(offset, kHugePage);
  ::close(fd);
  return huge ? HugePages::kRereading : HugePages::kUnsupported;
}

}  // namespace lfm2
