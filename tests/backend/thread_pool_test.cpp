#include "backend/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace slim {
namespace {

TEST(ThreadPool, RunCallsEveryThreadOnce) {
    ThreadPool pool(3);
    for (int round = 0; round < 100; ++round) {
        std::vector<std::atomic<int>> calls(3);
        pool.run([&](int t, int nt) {
            EXPECT_EQ(nt, 3);
            calls[size_t(t)].fetch_add(1);
        });
        for (const auto& c : calls) EXPECT_EQ(c.load(), 1);
    }
}

TEST(ThreadPool, RunChunksCoversEveryItemOnce) {
    ThreadPool pool(2);
    for (int64_t n : {1, 7, 64, 1001}) {
        for (int64_t chunk : {1, 3, 16, 5000}) {
            std::vector<std::atomic<int>> seen(static_cast<size_t>(n));
            pool.run_chunks(n, chunk, [&](int64_t begin, int64_t end) {
                EXPECT_LT(begin, end);
                EXPECT_EQ(begin % chunk, 0);
                for (int64_t i = begin; i < end; ++i) seen[size_t(i)].fetch_add(1);
            });
            for (const auto& s : seen) EXPECT_EQ(s.load(), 1) << "n " << n << ", chunk " << chunk;
        }
    }
}

// A worker prefetching after a run stops when the next run starts: runs go
// on as before, whatever the range (here far more than any cache).
TEST(ThreadPool, PrefetchAfterRunLeavesLaterRunsIntact) {
    ThreadPool pool(2);
    std::vector<char> memory(64 << 20, 1);
    for (int round = 0; round < 50; ++round) {
        pool.prefetch_after_run(1, memory.data(), memory.size());
        std::atomic<int> calls{0};
        pool.run([&](int, int) { calls.fetch_add(1); });
        EXPECT_EQ(calls.load(), 2);
        int64_t sum = 0;
        pool.run_chunks(100, 10, [&](int64_t begin, int64_t end) {
            std::atomic_ref<int64_t>(sum).fetch_add(end - begin);
        });
        EXPECT_EQ(sum, 100);
    }
}

}  // namespace
}  // namespace slim
