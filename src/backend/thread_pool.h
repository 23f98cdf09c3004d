// A persistent pool of worker threads for data-parallel kernels.
//
// run(fn) calls fn(thread_index, n_threads) once on every thread — the caller
// is thread 0 — and returns when all have finished. Kernels split their rows
// by thread index, so there is no task queue and no allocation per call.
// Workers spin briefly on a generation counter before sleeping (C++20 atomic
// wait), because decode dispatches a few hundred short kernels per token and
// a futex wake per kernel would cost more than the kernels on small models.
#pragma once

#include <atomic>
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

  private:
    void worker(int index, uint64_t seen);

    int n_threads_;
    std::vector<std::thread> workers_;
    const std::function<void(int, int)>* job_ = nullptr;
    std::atomic<uint64_t> generation_{0};
    std::atomic<int> pending_{0};
    std::atomic<bool> stop_{false};
};

}  // namespace slim
