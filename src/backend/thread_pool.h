// A persistent pool of worker threads for data-parallel kernels.
//
// run(fn) calls fn(thread_index, n_threads) once on every thread — the caller
// is thread 0 — and returns when all have finished. Kernels split their rows
// by thread index, so there is no task queue and no allocation per call.
// Workers spin briefly on a generation counter before sleeping (C++20 atomic
// wait), because decode dispatches a few hundred short kernels per token and
// a futex wake per kernel would cost more than the kernels on small models.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace slim {

class ThreadPool {
  public:
    explicit ThreadPool(int n_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_threads_; }
    void run(const std::function<void(int thread, int n_threads)>& fn);

    // Rows [begin, end) of n for thread `thread` of `n_threads`, in contiguous chunks.
    static std::pair<int64_t, int64_t> split(int64_t n, int thread, int n_threads) {
        int64_t per = n / n_threads, extra = n % n_threads;
        int64_t begin = thread * per + std::min<int64_t>(thread, extra);
        return {begin, begin + per + (thread < extra ? 1 : 0)};
    }

    // fn(begin, end) on runs of whole chunks of [0, n), chunks `chunk` items
    // long (the last may be shorter). Each thread takes the chunks of its
    // own share of [0, n) (split's) in order, then those left in the other
    // threads' shares. So a thread that runs slower (its core shared with
    // another tenant, or its memory stream slowed by the other's) does less
    // instead of holding every other thread at the end, and until then each
    // thread reads one contiguous stream, which its prefetches run ahead of.
    //
    // A claim takes 1 / (4 n_threads) of what is left of a share, at least
    // one chunk: so claims are few while much is left and single chunks at
    // the end. Each claim is a locked add, which on x86 waits for every load
    // in flight; one per 16 KiB chunk was 1.3% of a Gemma 3 270M decode
    // token at one thread, 77% of it on the instruction after the add.
    template <class F>
    void run_chunks(int64_t n, int64_t chunk, F&& fn) {
        const int64_t n_chunks = (n + chunk - 1) / chunk;
        for (int t = 0; t < n_threads_; ++t)
            next_chunk_[size_t(t)].value.store(split(n_chunks, t, n_threads_).first,
                                               std::memory_order_relaxed);
        run([&](int t, int nt) {
            for (int k = 0; k < nt; ++k) {
                const int owner = (t + k) % nt;
                const int64_t end = split(n_chunks, owner, nt).second;
                std::atomic<int64_t>& next = next_chunk_[size_t(owner)].value;
                for (;;) {
                    const int64_t left = end - next.load(std::memory_order_relaxed);
                    if (left <= 0) break;
                    const int64_t take = std::max<int64_t>(1, left / (4 * nt));
                    const int64_t c = next.fetch_add(take, std::memory_order_relaxed);
                    if (c >= end) break;
                    fn(c * chunk, std::min(n, std::min(end, c + take) * chunk));
                }
            }
        });
    }

    // Memory worker `thread` reads into its cache after its part of the next
    // run(), while the caller goes on alone, until another run starts: the
    // start of its share of the next matmul's weights, so that decode's
    // steps between two matmuls (norms, RoPE) overlap memory traffic. Set
    // before the run; a run clears every thread's.
    void prefetch_after_run(int thread, const void* begin, size_t bytes) {
        after_run_[size_t(thread)] = {static_cast<const char*>(begin), bytes};
    }

  private:
    struct Range {
        const char* begin = nullptr;
        size_t bytes = 0;
    };
    void worker(int index, uint64_t seen);
    // Prefetches the range into L2 until the generation moves on from `seen`.
    void prefetch_until_next_run(const Range& range, uint64_t seen);

    int n_threads_;
    std::vector<std::thread> workers_;
    const std::function<void(int, int)>* job_ = nullptr;
    std::atomic<uint64_t> generation_{0};
    std::atomic<int> pending_{0};
    std::atomic<bool> stop_{false};
    // run_chunks' next chunk in each thread's share, a cache line each.
    struct alignas(64) ChunkCounter {
        std::atomic<int64_t> value{0};
    };
    std::vector<ChunkCounter> next_chunk_;
    std::vector<Range> after_run_;  // prefetch_after_run's, per thread
};

}  // namespace slim
