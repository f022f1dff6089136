#include "base/thread_pool.h"

#include <atomic>
#include <vector>

#include <gtest/gtest.h>

namespace lfm2 {
namespace {

TEST(ThreadPoolTest, ParallelForCoversEveryIndexOnce) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    for (size_t n : {0, 1, 7, 64, 1000, 1023}) {
      for (size_t grain : {1, 4, 16}) {
        std::vector<std::atomic<int>> hits(n);
        pool.ParallelFor(n, grain, [&](size_t begin, size_t end, int worker) {
          EXPECT_GE(worker, 0);
          EXPECT_LT(worker, threads);
          if (end != n) {
            EXPECT_EQ(end % grain, 0u);
          }
          for (size_t i = begin; i < end; ++i) hits[i]++;
        });
        for (size_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;
      }
    }
  }
}

TEST(ThreadPoolTest, PartitionIsStatic) {
  // The same n, grain and thread count always give the same worker for an index.
  ThreadPool pool(3);
  std::vector<int> first(100), second(100);
  for (auto* owner : {&first, &second}) {
    pool.ParallelFor(100, 4, [&](size_t begin, size_t end, int worker) {
      for (size_t i = begin; i < end; ++i) (*owner)[i] = worker;
    });
  }
  EXPECT_EQ(first, second);
}

TEST(ThreadPoolTest, ManyShortDispatches) {
  ThreadPool pool(2);
  std::atomic<long> total{0};
  for (int round = 0; round < 20000; ++round) {
    pool.RunOnAll([&](int worker) { total += worker + 1; });
  }
  EXPECT_EQ(total.load(), 20000L * 3);
}

}  // namespace
}  // namespace lfm2
