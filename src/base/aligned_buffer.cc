// base/aligned_buffer.cc - allocation behind AlignedBuffer.
#include "base/aligned_buffer.h"

#include <sys/mman.h>

namespace lfm2::internal {
namespace {
constexpr size_t kMapThreshold = size_t{1} << 20;
}

void* AllocateZeroed(size_t bytes) {
  if (bytes >= kMapThreshold) {
    void* data = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return data == MAP_FAILED ? nullptr : data;
  }
  void* data = std::aligned_alloc(kBufferAlignment, bytes);
  if (data != nullptr) std::memset(data, 0, bytes);
  return data;
}

void Free(void* data, size_t bytes) {
  if (data == nullptr) return;
  if (bytes >= kMapThreshold) {
    ::munmap(data, bytes);
  } else {
    std::free(data);
  }
}

}  // namespace lfm2::internal
