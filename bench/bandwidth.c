// Memory read bandwidth over a buffer of a given size: the physical limit of
// decode, which reads every weight once per token. Each thread reads its own
// contiguous share of one buffer with AVX2 loads (4 independent accumulators,
// so the loads are not serialised by the adds); a run is timed from the
// moment all threads start until the last one ends. The buffer is written
// once first, so every page is resident and nothing is a zero-page read.
//
// Usage: bandwidth SIZE|FILE [THREADS,...] [RUNS]
//   SIZE in bytes (suffix K, M, G allowed) or a file whose size to use (the
//   model); threads default 1,2; runs default 20. Prints, per thread count,
//   the best and median GB/s (1 GB = 1e9 bytes), one line each:
//   threads=1 bytes=253113024 best_gbps=20.12 median_gbps=19.50 runs=20
//
// Build: cc -O2 -mavx2 -pthread bench/bandwidth.c -o build/bandwidth
#define _GNU_SOURCE
#include <immintrin.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

typedef struct {
    const uint8_t* begin;
    size_t bytes;
    pthread_barrier_t* barrier;
    uint64_t sink;
    double start, end;  // when this thread began and finished reading
} Job;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void* read_share(void* arg) {
    Job* job = (Job*)arg;
    pthread_barrier_wait(job->barrier);
    job->start = now_s();
    const __m256i* p = (const __m256i*)job->begin;
    const size_t n = job->bytes / sizeof(__m256i);
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        a0 = _mm256_add_epi64(a0, _mm256_load_si256(p + i));
        a1 = _mm256_add_epi64(a1, _mm256_load_si256(p + i + 1));
        a2 = _mm256_add_epi64(a2, _mm256_load_si256(p + i + 2));
        a3 = _mm256_add_epi64(a3, _mm256_load_si256(p + i + 3));
    }
    for (; i < n; ++i) a0 = _mm256_add_epi64(a0, _mm256_load_si256(p + i));
    __m256i s = _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3));
    uint64_t out[4];
    _mm256_storeu_si256((__m256i*)out, s);
    job->sink = out[0] + out[1] + out[2] + out[3];
    job->end = now_s();
    return NULL;
}

static int cmp_double(const void* a, const void* b) {
    double x = *(const double*)a, y = *(const double*)b;
    return (x > y) - (x < y);
}

static size_t parse_size(const char* s) {
    struct stat st;
    if (stat(s, &st) == 0 && S_ISREG(st.st_mode)) return (size_t)st.st_size;
    char* end = NULL;
    double v = strtod(s, &end);
    if (end == s || v <= 0) return 0;
    if (*end == 'K' || *end == 'k') v *= 1024;
    if (*end == 'M' || *end == 'm') v *= 1024 * 1024;
    if (*end == 'G' || *end == 'g') v *= 1024.0 * 1024 * 1024;
    return (size_t)v;
}

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s SIZE|FILE [THREADS,...] [RUNS]\n", argv[0]);
        return 2;
    }
    size_t bytes = parse_size(argv[1]);
    const char* thread_list = argc > 2 ? argv[2] : "1,2";
    int runs = argc > 3 ? atoi(argv[3]) : 20;
    if (bytes < 4096 || runs < 1) {
        fprintf(stderr, "bandwidth: need a size of at least 4 KiB and at least 1 run\n");
        return 2;
    }
    bytes = bytes / 4096 * 4096;
    // On transparent huge pages where the kernel grants them (THP "madvise"
    // or "always"), as slim's CPU backend holds its weights: on 4 KiB pages
    // a TLB miss every 4 KiB held one core to 11.7 GB/s against 13.8 GB/s
    // (Sapphire Rapids VM), and the limit is the faster of the two.
    const size_t huge = (size_t)2 << 20;
    const size_t alloc = (bytes + huge - 1) / huge * huge;
    uint8_t* buf = aligned_alloc(huge, alloc);
    if (!buf) {
        fprintf(stderr, "bandwidth: cannot allocate %zu bytes\n", bytes);
        return 1;
    }
    madvise(buf, alloc, MADV_HUGEPAGE);  // advice only: 4 KiB pages if refused
    for (size_t i = 0; i < bytes; ++i) buf[i] = (uint8_t)(i * 131u);

    char list[256];
    snprintf(list, sizeof list, "%s", thread_list);
    uint64_t sink = 0;
    for (char* tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        int nt = atoi(tok);
        if (nt < 1 || nt > 256) {
            fprintf(stderr, "bandwidth: bad thread count %s\n", tok);
            return 2;
        }
        double* gbps = calloc((size_t)runs, sizeof(double));
        Job* jobs = calloc((size_t)nt, sizeof(Job));
        pthread_t* th = calloc((size_t)nt, sizeof(pthread_t));
        // Shares are multiples of 128 bytes (4 AVX2 loads).
        size_t share = bytes / (size_t)nt / 128 * 128;
        for (int r = -1; r < runs; ++r) {  // run -1 is a warm-up
            pthread_barrier_t barrier;
            pthread_barrier_init(&barrier, NULL, (unsigned)nt + 1);
            for (int t = 0; t < nt; ++t) {
                jobs[t].begin = buf + (size_t)t * share;
                jobs[t].bytes = t == nt - 1 ? bytes - (size_t)t * share : share;
                jobs[t].barrier = &barrier;
                pthread_create(&th[t], NULL, read_share, &jobs[t]);
            }
            pthread_barrier_wait(&barrier);
            for (int t = 0; t < nt; ++t) pthread_join(th[t], NULL);
            // From the first thread's start to the last one's end, as the
            // threads saw them: the main thread, one more than the cores
            // when nt equals them, may be descheduled right after the
            // barrier and would start its clock late (seen: 250 TB/s).
            double first = jobs[0].start, last = jobs[0].end;
            for (int t = 1; t < nt; ++t) {
                if (jobs[t].start < first) first = jobs[t].start;
                if (jobs[t].end > last) last = jobs[t].end;
            }
            double dt = last - first;
            pthread_barrier_destroy(&barrier);
            for (int t = 0; t < nt; ++t) sink += jobs[t].sink;
            if (r >= 0) gbps[r] = (double)bytes / dt / 1e9;
        }
        qsort(gbps, (size_t)runs, sizeof(double), cmp_double);
        printf("threads=%d bytes=%zu best_gbps=%.2f median_gbps=%.2f runs=%d\n", nt, bytes,
               gbps[runs - 1], gbps[runs / 2], runs);
        free(gbps);
        free(jobs);
        free(th);
    }
    fprintf(stderr, "(checksum %llu)\n", (unsigned long long)sink);
    free(buf);
    return 0;
}
