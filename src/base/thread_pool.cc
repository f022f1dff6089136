// base/thread_pool.cc - spin-then-sleep dispatch for the persistent pool.
#include "base/thread_pool.h"

#include <algorithm>

#include "base/check.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define LFM2_CPU_RELAX() _mm_pause()
#else
#define LFM2_CPU_RELAX() \
  do {                   \
  } while (0)
#endif

namespace lfm2 {
namespace {
// How long a worker spins on the generation counter before sleeping in the kernel. Decode runs
// hundreds of parallel sections per token, so the gap between two is usually far below this.
constexpr int kSpinIterations = 1 << 14;
}  // namespace

int ThreadPool::HardwareThreads() {
  return std::max(1u, std::thread::hardware_concurrency());
}

ThreadPool::ThreadPool(int num_threads) : num_threads_(std::max(1, num_threads)) {
  threads_.reserve(num_threads_ - 1);
  for (int worker = 1; worker < num_threads_; ++worker) {
    threads_.emplace_back([this] { WorkerLoop(); });
  }
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& thread : threads_) thread.join();
}

void ThreadPool::Dispatch(Thunk thunk, void* ctx) {
  LFM2_CHECK_MSG(!running_, "ThreadPool used re-entrantly");
  if (num_threads_ == 1) {
    thunk(ctx, 0);
    return;
  }
  running_ = true;
  thunk_ = thunk;
  ctx_ = ctx;
  pending_.store(num_threads_, std::memory_order_relaxed);
  const uint64_t generation = generation_.load(std::memory_order_relaxed) + 1;
  claim_.store(generation << 32, std::memory_order_release);
  generation_.store(generation, std::memory_order_release);  // publishes thunk_/ctx_/claim_
  generation_.notify_all();
  RunSlots(generation);
  // Every slot is claimed; wait for the ones workers are still running. Spin briefly (the usual
  // case: they finish within microseconds), then yield so that a worker descheduled on a busy
  // machine can run on this core instead of us burning it.
  for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
    if (spin < kSpinIterations) {
      LFM2_CPU_RELAX();
    } else {
      std::this_thread::yield();
    }
  }
  running_ = false;
}

// Claims and runs slots of `generation` until none is left. A claim succeeds only while the
// generation is current, and the dispatch cannot end (nor a new one begin) before every claimed
// slot is done, so thunk_ and ctx_ are those of this generation.
void ThreadPool::RunSlots(uint64_t generation) {
  uint64_t claim = claim_.load(std::memory_order_acquire);
  for (;;) {
    if ((claim >> 32) != generation) return;
    const int slot = static_cast<int>(claim & 0xffffffffu);
    if (slot >= num_threads_) return;
    if (!claim_.compare_exchange_weak(claim, claim + 1, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
      continue;
    }
    thunk_(ctx_, slot);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
    claim = claim_.load(std::memory_order_acquire);
  }
}

void ThreadPool::WorkerLoop() {
  uint64_t seen = 0;
  for (;;) {
    uint64_t current = generation_.load(std::memory_order_acquire);
    for (int spin = 0; current == seen && spin < kSpinIterations; ++spin) {
      LFM2_CPU_RELAX();
      current = generation_.load(std::memory_order_acquire);
    }
    while (current == seen) {
      generation_.wait(seen, std::memory_order_acquire);
      current = generation_.load(std::memory_order_acquire);
    }
    seen = current;
    if (stop_.load(std::memory_order_acquire)) return;
    RunSlots(current);
  }
}

}  // namespace lfm2
