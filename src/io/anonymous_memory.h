// io/anonymous_memory.h - a private anonymous mapping for large long-lived data (the weights in
// the kernels' tiled layout): zero-filled, resident only once written, and marked MADV_HUGEPAGE so
// the kernel backs it with 2 MiB pages where transparent huge pages allow (one TLB entry per
// 2 MiB of weights, as for a page cache of huge folios).
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/status.h"

namespace lfm2 {

class AnonymousMemory {
 public:
  AnonymousMemory() = default;
  // Fails (naming the size and the reason) when the mapping cannot be made.
  static StatusOr<AnonymousMemory> Create(size_t bytes, const char* what);
  ~AnonymousMemory();
  AnonymousMemory(AnonymousMemory&& other) noexcept;
  AnonymousMemory& operator=(AnonymousMemory&& other) noexcept;
  AnonymousMemory(const AnonymousMemory&) = delete;
  AnonymousMemory& operator=(const AnonymousMemory&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace lfm2
