// base/thread_pool.h - a persistent pool of worker threads with static partitioning. Created once
// per process (no per-token thread creation). Work is split into num_threads slots (contiguous
// ranges by slot index), so which slot computes which output never depends on timing, and
// results are bit-identical for any thread count as long as each output element is computed by
// exactly one slot (the kernels' contract). The threads claim slots as they arrive: when a worker
// is descheduled (a busy machine), the caller runs its slot instead of waiting for it, so one
// dispatch never costs a scheduler time slice. `worker` arguments below are slot indices: a slot
// runs on one thread at a time, but one thread may run several slots in turn.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

namespace lfm2 {

class ThreadPool {
 public:
  // `num_threads` >= 1 is the total number of threads including the caller.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }

  // Runs fn(worker) once on every worker 0..num_threads-1 and returns when all are done.
  template <typename Fn>
  void RunOnAll(const Fn& fn) {
    Dispatch(&CallThunk<Fn>, const_cast<Fn*>(&fn));
  }

  // Splits [0, n) into num_threads contiguous ranges whose boundaries are multiples of `grain`
  // (except the last) and calls fn(begin, end, worker) for each non-empty range.
  template <typename Fn>
  void ParallelFor(size_t n, size_t grain, const Fn& fn) {
    if (n == 0) return;
    if (grain == 0) grain = 1;
    const size_t blocks = (n + grain - 1) / grain;
    if (num_threads_ == 1 || blocks == 1) {
      fn(size_t{0}, n, 0);
      return;
    }
    RunOnAll([&](int worker) {
      const size_t t = static_cast<size_t>(num_threads_);
      const size_t begin = std::min(n, blocks * worker / t * grain);
      const size_t end = std::min(n, blocks * (worker + 1) / t * grain);
      if (begin < end) fn(begin, end, worker);
    });
  }

  // Number of hardware threads, at least 1.
  static int HardwareThreads();

 private:
  using Thunk = void (*)(void* ctx, int worker);
  template <typename Fn>
  static void CallThunk(void* ctx, int worker) {
    (*static_cast<const Fn*>(ctx))(worker);
  }
  void Dispatch(Thunk thunk, void* ctx);
  void RunSlots(uint64_t generation);
  void WorkerLoop();

  int num_threads_;
  std::vector<std::thread> threads_;
  Thunk thunk_ = nullptr;
  void* ctx_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> claim_{0};  // (generation << 32) | next unclaimed slot
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  bool running_ = false;  // re-entrancy guard (a kernel must not call the pool it runs on)
};

}  // namespace lfm2
