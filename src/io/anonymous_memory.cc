// io/anonymous_memory.cc - mmap/munmap of private anonymous memory.
#include "io/anonymous_memory.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace lfm2 {

StatusOr<AnonymousMemory> AnonymousMemory::Create(size_t bytes, const char* what) {
  AnonymousMemory memory;
  if (bytes == 0) return memory;
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    const int error = errno;
    return ResourceExhaustedError("cannot map ", bytes, " bytes for ", what, ": ", std::strerror(error));
  }
  ::madvise(p, bytes, MADV_HUGEPAGE);  // a hint; fine to fail (THP disabled)
  memory.data_ = static_cast<uint8_t*>(p);
  memory.size_ = bytes;
  return memory;
}

AnonymousMemory::~AnonymousMemory() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

AnonymousMemory::AnonymousMemory(AnonymousMemory&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

AnonymousMemory& AnonymousMemory::operator=(AnonymousMemory&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) ::munmap(data_, size_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

}  // namespace lfm2
