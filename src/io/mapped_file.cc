// io/mapped_file.cc - mmap/munmap wrappers with errno-based error messages.
#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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

}  // namespace lfm2
