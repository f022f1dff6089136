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
    threads_.emplace_back([this, worker] { WorkerLoop(worker); });
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
  pending_.store(num_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_acq_rel);  // publishes thunk_/ctx_
  generation_.notify_all();
  thunk(ctx, 0);
  // Spin briefly (the usual case: workers finish within microseconds), then yield so that a
  // worker descheduled on a busy machine can run on this core instead of us burning it.
  for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
    if (spin < kSpinIterations) {
      LFM2_CPU_RELAX();
    } else {
      std::this_thread::yield();
    }
  }
  running_ = false;
}

void ThreadPool::WorkerLoop(int worker) {
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
    thunk_(ctx_, worker);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace lfm2
