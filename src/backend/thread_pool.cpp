#include "backend/thread_pool.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace slim {

namespace {

constexpr int kSpinIterations = 1 << 14;

inline void cpu_relax() {
#if defined(__x86_64__)
    _mm_pause();
#endif
}

}  // namespace

ThreadPool::ThreadPool(int n_threads)
    : n_threads_(n_threads < 1 ? 1 : n_threads),
      next_chunk_(size_t(n_threads_)),
      after_run_(size_t(n_threads_)) {
    workers_.reserve(n_threads_ - 1);
    // Each worker starts from the generation as it is now, read here rather
    // than in the new thread: a run() or a destruction that came before the
    // thread's first read would otherwise be missed and the worker never wake.
    const uint64_t start = generation_.load(std::memory_order_acquire);
    for (int i = 1; i < n_threads_; ++i)
        workers_.emplace_back([this, i, start] { worker(i, start); });
}

ThreadPool::~ThreadPool() {
    stop_.store(true, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    generation_.notify_all();
    for (std::thread& t : workers_) t.join();
}

void ThreadPool::run(const std::function<void(int, int)>& fn) {
    if (n_threads_ == 1) {
        fn(0, 1);
        return;
    }
    job_ = &fn;
    pending_.store(n_threads_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    generation_.notify_all();
    fn(0, n_threads_);
    for (int spin = 0; pending_.load(std::memory_order_acquire) != 0; ++spin) {
        if (spin < kSpinIterations) {
            cpu_relax();
        } else {
            std::this_thread::yield();
        }
    }
    job_ = nullptr;
    std::fill(after_run_.begin(), after_run_.end(), Range{});
}

void ThreadPool::worker(int index, uint64_t seen) {
    for (;;) {
        uint64_t now = seen;
        for (int spin = 0; spin < kSpinIterations; ++spin) {
            now = generation_.load(std::memory_order_acquire);
            if (now != seen) break;
            cpu_relax();
        }
        if (now == seen) {
            generation_.wait(seen, std::memory_order_acquire);
            now = generation_.load(std::memory_order_acquire);
        }
        seen = now;
        if (stop_.load(std::memory_order_acquire)) return;
        (*job_)(index, n_threads_);
        // Read before the run ends: the caller may set the next run's then.
        const Range after = after_run_[size_t(index)];
        pending_.fetch_sub(1, std::memory_order_acq_rel);
        if (after.bytes > 0) prefetch_until_next_run(after, seen);
    }
}

void ThreadPool::prefetch_until_next_run(const Range& range, uint64_t seen) {
#if defined(__x86_64__)
    // The generation is checked every 4 KiB, a fraction of a microsecond of
    // prefetching, so the next run waits for this worker that long at most.
    for (size_t offset = 0; offset < range.bytes; offset += 64) {
        if (offset % 4096 == 0 && generation_.load(std::memory_order_relaxed) != seen) return;
        _mm_prefetch(range.begin + offset, _MM_HINT_T1);
    }
#else
    (void)range, (void)seen;
#endif
}

}  // namespace slim
