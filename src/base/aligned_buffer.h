// base/aligned_buffer.h - owning, 64-byte aligned, zero-initialised arrays for activations, caches
// and repacked weights. Move-only: an expensive copy must be spelled Clone().
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <span>
#include <type_traits>
#include <utility>

#include "base/check.h"

namespace lfm2 {

inline constexpr size_t kBufferAlignment = 64;

// Bytes an AlignedBuffer<T> of `count` elements really allocates (rounded up to the alignment);
// the RAM planner uses the same function so plan and allocation cannot disagree.
template <typename T>
constexpr size_t AlignedBytes(size_t count) {
  const size_t bytes = count * sizeof(T);
  return (bytes + kBufferAlignment - 1) / kBufferAlignment * kBufferAlignment;
}

namespace internal {
// 64-byte aligned, zero-filled memory; page-aligned anonymous mappings from 1 MiB up.
void* AllocateZeroed(size_t bytes);
void Free(void* data, size_t bytes);
}  // namespace internal

template <typename T>
class AlignedBuffer {
  static_assert(std::is_trivially_copyable_v<T>, "AlignedBuffer holds plain numbers");

 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t count) : size_(count) {
    if (count == 0) return;
    data_ = static_cast<T*>(internal::AllocateZeroed(AlignedBytes<T>(count)));
    // Sizes come from the RAM plan, which was checked against the budget before loading, so
    // running out of memory here is fatal, as it is for std::vector.
    LFM2_CHECK_MSG(data_ != nullptr, "out of memory");
  }
  // Allocation and release go through the same pair (mmap from 1 MiB up, else aligned_alloc).
  ~AlignedBuffer() { internal::Free(data_, AlignedBytes<T>(size_)); }
  AlignedBuffer(AlignedBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept {
    if (this != &other) {
      internal::Free(data_, AlignedBytes<T>(size_));
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  AlignedBuffer Clone() const {
    AlignedBuffer copy(size_);
    if (size_ != 0) std::memcpy(static_cast<void*>(copy.data_), data_, size_ * sizeof(T));
    return copy;
  }

  T* data() { return data_; }
  const T* data() const { return data_; }
  size_t size() const { return size_; }
  size_t bytes() const { return AlignedBytes<T>(size_); }
  bool empty() const { return size_ == 0; }
  T& operator[](size_t i) {
    LFM2_DCHECK(i < size_);
    return data_[i];
  }
  const T& operator[](size_t i) const {
    LFM2_DCHECK(i < size_);
    return data_[i];
  }
  std::span<T> span() { return {data_, size_}; }
  std::span<const T> span() const { return {data_, size_}; }
  void Zero() {
    if (size_ != 0) std::memset(static_cast<void*>(data_), 0, size_ * sizeof(T));
  }

 private:
  T* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace lfm2
