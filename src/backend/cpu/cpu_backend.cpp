// The CPU backend: ops run at once on host memory, split across a persistent
// thread pool. Matmul weights are copied onto huge pages, repacked where
// their kernels have a layout (cpu/repack.h); lookup tables stay in the
// mmap'd model file (DEVELOPERS.md, "Weights in memory (CPU)").
#include <fmt/format.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <thread>
#include <unordered_map>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/ggml_math.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/repack.h"
#include "backend/thread_pool.h"
#include "format/error.h"
#include "tensor/fp16.h"
#include "tensor/tensor_type.h"

namespace slim {

namespace {

struct AlignedFree {
    void operator()(void* p) const { std::free(p); }
};

class CpuBackend final : public Backend {
  public:
    explicit CpuBackend(const CpuBackendOptions& options)
        : isa_(cpu::active_isa()),
          pool_(options.n_threads > 0 ? options.n_threads
                                      : std::max(1, int(std::thread::hardware_concurrency()))) {}

    std::string name() const override {
        return fmt::format("cpu ({} threads, {})", pool_.size(), cpu::isa_name(isa_));
    }

    Tensor weight(GgmlType type, int64_t n_cols, int64_t n_rows, const void* bytes,
                  WeightBytes where, WeightUse use) override {
        if (!cpu::scalar_matmul_kernel(type)) {
            throw Error(ErrorKind::unsupported, "", "weight type", std::nullopt,
                        "a type the CPU backend computes with", std::string(ggml_type_name(type)));
        }
        const size_t row_bytes = tensor_row_bytes(type, n_cols);
        const Tensor in_place{const_cast<void*>(bytes), type, n_cols, n_rows, row_bytes};
        if (use == WeightUse::lookup) return in_place;
        // Repacked where a kernel reads a repacked layout; otherwise copied
        // as it is from the file (onto huge pages: alloc_weight_bytes). A
        // caller's own memory in ggml's rows is used in place. One-row
        // weights (norms, biases) are copied too: in the file mapping each
        // sits on its own 4 KiB page, and a decode step that reads one after
        // the weight stream has emptied the TLB waits for a page walk. Gemma 3
        // tg64 at 1 thread, --profile: norms 73 -> 32 ms of 2.9 s.
        const bool repack =
            cpu::repack_supported(type, n_cols, n_rows) && cpu::repacked_kernel(type);
        if (!repack && where != WeightBytes::file_mapping) return in_place;
        const int64_t step_rows = repack ? cpu::repack_rows(type) : 1;
        const size_t step_bytes = row_bytes * size_t(step_rows);
        char* copy = static_cast<char*>(alloc_weight_bytes(
            repack ? cpu::repacked_bytes(type, n_cols, n_rows) : row_bytes * size_t(n_rows)));
        pool_.run([&](int t, int nt) {
            auto [begin, end] = ThreadPool::split(n_rows / step_rows, t, nt);
            // About 1 MiB of the file at a time, its pages dropped as soon
            // as they are copied, so that both copies of a large matrix (a
            // tied embedding: 178 MB in Gemma 3) are never resident at once.
            const int64_t chunk = std::max<int64_t>(1, int64_t((1 << 20) / step_bytes));
            for (int64_t s = begin; s < end; s += chunk) {
                const int64_t s_end = std::min(end, s + chunk);
                const char* src = static_cast<const char*>(bytes) + step_bytes * size_t(s);
                if (repack)
                    cpu::repack_groups(type, bytes, n_cols, s, s_end, copy);
                else
                    std::memcpy(copy + step_bytes * size_t(s), src, step_bytes * size_t(s_end - s));
                if (where == WeightBytes::file_mapping)
                    release_pages(src, step_bytes * size_t(s_end - s));
            }
        });
        // The pages the chunks shared at their ends.
        if (where == WeightBytes::file_mapping) release_pages(bytes, row_bytes * size_t(n_rows));
        return Tensor{copy,   type,      n_cols,
                      n_rows, row_bytes, repack ? TensorLayout::backend : TensorLayout::rows};
    }

    Tensor alloc(GgmlType type, int64_t n_cols, int64_t n_rows) override {
        size_t rb = tensor_row_bytes(type, n_cols);
        void* p = alloc_bytes(buffers_, rb * size_t(n_rows));
        std::memset(p, 0, rb * size_t(n_rows));
        return Tensor{p, type, n_cols, n_rows, rb};
    }

    void free(const Tensor& t) override {
        for (auto it = buffers_.begin(); it != buffers_.end(); ++it) {
            if (it->get() == t.data) {
                buffers_.erase(it);
                return;
            }
        }
    }

    void upload(const Tensor& dst, const void* src, size_t bytes) override {
        std::memcpy(dst.data, src, bytes);
    }
    void download(void* dst, const Tensor& src, size_t bytes) override {
        std::memcpy(dst, src.data, bytes);
    }
    void synchronize() override {}
    Tensor host_f32(float* data, int64_t n_cols, int64_t n_rows) override {
        return Tensor{data, GgmlType::f32, n_cols, n_rows, size_t(n_cols) * sizeof(float)};
    }

    void matmul(const Tensor& y, const Tensor& w, const Tensor& x, int64_t n) override {
        if (w.layout == TensorLayout::backend) return matmul_repacked(y, w, x, n);
        const cpu::MatmulKernel* k = cpu::matmul_kernel(w.type);
        const size_t act_row = tensor_row_bytes(k->act_type, w.n_cols);
        quantize_rows(x, n, act_row, w.n_cols, k->quantize_act);
        // llama.cpp sums the first n_batch activation rows in another order
        // than the rest for some weight types (kernels.h, BatchOrder). The
        // tile sums in vec_dot_batch's order where there is one.
        const int64_t n_batch = k->vec_dot_batch ? cpu::batch_order_rows(k->batch_order, n) : 0;
        const cpu::MatmulTileEntry* tiles = cpu::matmul_tiles(w.type);
        const cpu::MatmulTileEntry* narrow = cpu::matmul_narrow_tiles(w.type);
        const cpu::MatmulTileEntry* gemv = cpu::matmul_gemv(w.type);  // vec_dot's order
        // Whole tiles of weight rows per chunk (matmul_items), so only the
        // matrix's own last rows are left for the dot products.
        const MatmulItems items = matmul_items(w, n);
        prefetch_next_weight(w, n);
        pool_.run_chunks(items.count, items.chunk, [&](int64_t begin, int64_t end) {
            begin *= items.rows;
            end = std::min(w.n_rows, end * items.rows);
            if (n_batch > 0)
                multiply_tiled(tiles, narrow, nullptr, k->vec_dot_batch, y, w, act_row, 0, n_batch,
                               begin, end);
            if (n_batch < n) {
                if (k->vec_dot_batch)
                    multiply_rows(nullptr, gemv, k->vec_dot, y, w, act_row, n_batch, n, begin, end);
                else
                    multiply_tiled(tiles, narrow, gemv, k->vec_dot, y, w, act_row, n_batch, n,
                                   begin, end);
            }
        });
    }

    void linear(const Tensor& y, const Tensor& w, const Tensor* bias, const Tensor& x,
                int64_t n) override {
        const bool gemm_type =
            w.type == GgmlType::f32 || w.type == GgmlType::f16 || w.type == GgmlType::q8_0;
        if (!float_kernels_ || !gemm_type || w.layout != TensorLayout::rows || n < 2) {
            matmul(y, w, x, n);
            if (bias) add_row(y, *bias, n);
            return;
        }
        const cpu::FloatGemmProblem p{w.type,
                                      w.data,
                                      w.row_bytes,
                                      w.n_cols,
                                      w.n_rows,
                                      x.f32(),
                                      x.row_bytes / sizeof(float),
                                      n,
                                      bias ? bias->f32() : nullptr,
                                      y.f32(),
                                      y.row_bytes / sizeof(float)};
        const cpu::FloatGemm& gemm = float_kernels_->gemm;
        const int64_t cols = gemm.panel_cols;
        const size_t panel_floats = size_t(w.n_cols) * size_t(cols);
        if (gemm_panels_.size() < size_t(pool_.size())) gemm_panels_.resize(size_t(pool_.size()));
        pool_.run([&](int t, int nt) {
            auto [begin, end] = ThreadPool::split((w.n_rows + cols - 1) / cols, t, nt);
            if (begin == end) return;
            PanelBuffer& panel = gemm_panels_[size_t(t)];
            if (panel.floats < panel_floats) {
                panel.data.reset(static_cast<float*>(aligned_bytes(panel_floats * sizeof(float))));
                panel.floats = panel_floats;
            }
            gemm.run(p, begin * cols, std::min(w.n_rows, end * cols), panel.data.get());
        });
    }

    // multiply_rows with the wide tiles (AMX: 16 activation rows) in whole
    // tiles and the narrow ones (matmul_narrow_tiles) for the rows left, so
    // that a prompt's last n % 16 tokens, or a prompt of 8-15, do not fall
    // to one-row dot products.
    void multiply_tiled(const cpu::MatmulTileEntry* tiles, const cpu::MatmulTileEntry* narrow,
                        const cpu::MatmulTileEntry* gemv, cpu::VecDotFn dot, const Tensor& y,
                        const Tensor& w, size_t act_row, int64_t r_begin, int64_t r_end,
                        int64_t begin, int64_t end) {
        int64_t whole = r_end;
        if (tiles && narrow)
            whole = r_begin + (r_end - r_begin) / tiles->act_rows * tiles->act_rows;
        multiply_rows(tiles, gemv, dot, y, w, act_row, r_begin, whole, begin, end);
        if (whole < r_end)
            multiply_rows(narrow, gemv, dot, y, w, act_row, whole, r_end, begin, end);
    }

    // Weight rows [begin, end) against activation rows [r_begin, r_end), in
    // TW x TA tiles (the tile's weight and activation rows; gemv's when there are fewer rows
    // than the tile takes) where there is a tile kernel, the
    // activations in blocks that stay in L2 while the thread's weight rows pass by (prepared for
    // the tile first where it has its own layout); leftover rows and columns go through dot, whose
    // order the tile's is.
    void multiply_rows(const cpu::MatmulTileEntry* tiles, const cpu::MatmulTileEntry* gemv,
                       cpu::VecDotFn dot, const Tensor& y, const Tensor& w, size_t act_row,
                       int64_t r_begin, int64_t r_end, int64_t begin, int64_t end) {
        if (!tiles || r_end - r_begin < tiles->act_rows) tiles = gemv;
        const int64_t TW = tiles ? tiles->weight_rows : 1;
        const int64_t TA = tiles ? tiles->act_rows : 1;
        const bool prepare = tiles && tiles->prepare_act;
        const size_t group_bytes = prepare ? tiles->prepared_bytes(w.n_cols) : 0;
        // 16 tiles of rows, fewer where their prepared groups would pass 512 KiB.
        int64_t act_block = 16 * TA;
        if (prepare)
            act_block = std::clamp<int64_t>(int64_t((512 << 10) / group_bytes), 1, 16) * TA;
        thread_local std::vector<char> prepared;
        if (prepare) prepared.resize(group_bytes * size_t(act_block / TA));
        const char* wdata = static_cast<const char*>(w.data);
        float out[cpu::kMaxTileRows * cpu::kMaxTileRows];
        for (int64_t r0 = r_begin; r0 < r_end; r0 += act_block) {
            const int64_t r1 = std::min(r_end, r0 + act_block);
            const int64_t r_tiled = tiles ? r0 + (r1 - r0) / TA * TA : r0;
            // The tile's activations for rows [r, r + TA): prepared, or in place.
            const auto tile_acts = [&](int64_t r) -> char* {
                return prepare ? prepared.data() + group_bytes * size_t((r - r0) / TA)
                               : act_.data() + act_row * r;
            };
            if (prepare) {
                for (int64_t r = r0; r < r_tiled; r += TA)
                    tiles->prepare_act(w.n_cols, act_.data() + act_row * r, act_row, tile_acts(r));
            }
            int64_t o = begin;
            for (; tiles && o + TW <= end; o += TW) {
                const char* wrow = wdata + w.row_bytes * o;
                for (int64_t r = r0; r < r_tiled; r += TA) {
                    tiles->tile(w.n_cols, wrow, w.row_bytes, tile_acts(r), prepare ? 0 : act_row,
                                out);
                    for (int64_t i = 0; i < TW; ++i)
                        for (int64_t j = 0; j < TA; ++j) y.row(r + j)[o + i] = out[i * TA + j];
                }
                for (int64_t r = r_tiled; r < r1; ++r)
                    for (int64_t i = 0; i < TW; ++i)
                        y.row(r)[o + i] =
                            dot(w.n_cols, wrow + w.row_bytes * i, act_.data() + act_row * r);
            }
            for (; o < end; ++o)
                for (int64_t r = r0; r < r1; ++r)
                    y.row(r)[o] = dot(w.n_cols, wdata + w.row_bytes * o, act_.data() + act_row * r);
        }
    }

    // A repacked table (a tied embedding that is also the output matmul) is
    // read back from the repacked copy, so the file's pages stay released.
    void get_rows(const Tensor& y, const Tensor& table, std::span<const int32_t> ids) override {
        std::vector<char> unpacked;
        if (table.layout == TensorLayout::backend) unpacked.resize(table.row_bytes);
        for (size_t i = 0; i < ids.size(); ++i) {
            const char* row = static_cast<const char*>(table.data) + table.row_bytes * ids[i];
            if (table.layout == TensorLayout::backend) {
                cpu::unpack_row(table.type, table.data, table.n_cols, ids[i], unpacked.data());
                row = unpacked.data();
            }
            dequantize_row(table.type, row, y.row(int64_t(i)), table.n_cols);
        }
    }

    void rms_norm(const Tensor& x, const Tensor* weight, float eps, int64_t n) override {
        if (weight) note_small_read(weight->data, size_t(x.n_cols) * sizeof(float), n);
        rms_norm_spans(
            n, x.n_cols, [&](int64_t s) { return x.row(s); }, weight ? weight->f32() : nullptr,
            eps);
    }

    void rms_norm_groups(const Tensor& x, const Tensor& weight, int group, float eps,
                         int64_t n) override {
        note_small_read(weight.data, size_t(group) * sizeof(float), n);
        const int64_t per_row = x.n_cols / group;
        rms_norm_spans(
            n * per_row, group, [&](int64_t s) { return x.row(s / per_row) + s % per_row * group; },
            weight.f32(), eps);
    }

    void layer_norm(const Tensor& x, const Tensor* weight, const Tensor* bias, float eps,
                    int64_t n) override {
        const float* w = weight ? weight->f32() : nullptr;
        const float* b = bias ? bias->f32() : nullptr;
        if (float_kernels_) {
            for_rows(n,
                     [&](int64_t r) { float_kernels_->layer_norm(x.row(r), x.n_cols, w, b, eps); });
            return;
        }
        for_rows(n, [&](int64_t r) {
            float* v = x.row(r);
            double mean = 0;
            for (int64_t i = 0; i < x.n_cols; ++i) mean += v[i];
            mean /= double(x.n_cols);
            double var = 0;
            for (int64_t i = 0; i < x.n_cols; ++i) var += (v[i] - mean) * (v[i] - mean);
            var /= double(x.n_cols);
            const float inv = float(1.0 / std::sqrt(var + eps));
            for (int64_t i = 0; i < x.n_cols; ++i) {
                float o = float(v[i] - mean) * inv;
                if (w) o *= w[i];
                if (b) o += b[i];
                v[i] = o;
            }
        });
    }

    void copy(const Tensor& dst, const Tensor& src, int64_t n) override {
        for_rows(n, [&](int64_t r) { std::memcpy(dst.row(r), src.row(r), src.row_bytes); });
    }

    void add(const Tensor& y, const Tensor& a, const Tensor& b, int64_t n) override {
        for_rows(n, [&](int64_t r) {
            float *o = y.row(r), *pa = a.row(r), *pb = b.row(r);
            for (int64_t i = 0; i < y.n_cols; ++i) o[i] = pa[i] + pb[i];
        });
    }

    void add_row(const Tensor& x, const Tensor& b, int64_t n) override {
        for_rows(n, [&](int64_t r) {
            float* v = x.row(r);
            for (int64_t i = 0; i < x.n_cols; ++i) v[i] += b.f32()[i];
        });
    }

    void scale(const Tensor& x, float s, int64_t n) override {
        for_rows(n, [&](int64_t r) {
            float* v = x.row(r);
            for (int64_t i = 0; i < x.n_cols; ++i) v[i] *= s;
        });
    }

    void swiglu(const Tensor& gate, const Tensor& up, int64_t n) override {
        for_rows(n, [&](int64_t r) {
            float *g = gate.row(r), *u = up.row(r);
            // ggml's swiglu: its polynomial exp on full 16-wide chunks, libm on the tail.
            const int64_t n_full = gate.n_cols / ggml::kLanes * ggml::kLanes;
            cpu::attention_kernel().silu_mul16(g, u, n_full);
            for (int64_t i = n_full; i < gate.n_cols; ++i) {
                g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
            }
        });
    }

    void geglu(const Tensor& gate, const Tensor& up, int64_t n) override {
        for_rows(n, [&](int64_t r) {
            cpu::attention_kernel().gelu_mul(gate.row(r), up.row(r), gate.n_cols, gelu_f16_.data());
        });
    }

    void gelu(const Tensor& x, int64_t n) override {
        for_rows(n, [&](int64_t r) {
            cpu::attention_kernel().gelu_mul(x.row(r), nullptr, x.n_cols, gelu_f16_.data());
        });
    }

    void gelu_erf(const Tensor& x, int64_t n) override {
        if (float_kernels_) {
            for_rows(n, [&](int64_t r) { float_kernels_->gelu_erf(x.row(r), x.n_cols); });
            return;
        }
        for_rows(n, [&](int64_t r) {
            float* v = x.row(r);
            for (int64_t i = 0; i < x.n_cols; ++i)
                v[i] = 0.5f * v[i] * (1.0f + std::erf(v[i] * float(M_SQRT1_2)));
        });
    }

    void softcap(const Tensor& x, float cap, int64_t n) override {
        for_rows(n, [&](int64_t r) {
            float* v = x.row(r);
            for (int64_t i = 0; i < x.n_cols; ++i) v[i] = cap * std::tanh(v[i] / cap);
        });
    }

    void rope(const Tensor& x, int n_head, int head_dim, std::span<const int32_t> positions,
              const RopeParams& p) override;

    void kv_store(const Tensor& k_cache, const Tensor& v_cache, const Tensor& k, const Tensor& v,
                  std::span<const int32_t> slots) override {
        for (size_t i = 0; i < slots.size(); ++i) {
            auto* kd = reinterpret_cast<uint16_t*>(static_cast<char*>(k_cache.data) +
                                                   k_cache.row_bytes * slots[i]);
            auto* vd = reinterpret_cast<uint16_t*>(static_cast<char*>(v_cache.data) +
                                                   v_cache.row_bytes * slots[i]);
            const float *ks = k.row(int64_t(i)), *vs = v.row(int64_t(i));
            for (int64_t c = 0; c < k.n_cols; ++c) kd[c] = fp32_to_fp16(ks[c]);
            for (int64_t c = 0; c < v.n_cols; ++c) vd[c] = fp32_to_fp16(vs[c]);
        }
    }

    void attention(const Tensor& out, const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                   std::span<const int32_t> q_positions, std::span<const int32_t> kv_positions,
                   const AttentionParams& p) override;

  private:
    // 64-byte aligned, freed with the backend. Large ones are anonymous
    // mappings (glibc's malloc maps them), so a repacked weight's pages
    // count once.
    using Buffers = std::deque<std::unique_ptr<void, AlignedFree>>;
    static void* aligned_bytes(size_t n) {
        void* p = std::aligned_alloc(64, std::max<size_t>((n + 63) / 64 * 64, 64));
        if (!p) throw std::bad_alloc();
        return p;
    }
    static void* alloc_bytes(Buffers& owner, size_t n) {
        void* p = aligned_bytes(n);
        owner.emplace_back(p);
        return p;
    }

    // Memory for a weight the backend holds (a copy or a repacked copy of the
    // file's): weights are laid one after
    // another in slabs of at least 64 MiB on transparent huge pages, where
    // the kernel lets a process ask for them (THP "madvise" or "always").
    // Decode streams every weight once per token, and on 4 KiB pages one
    // core read 930 MB at 11.7 GB/s, against 13.8 GB/s on huge pages
    // (bench/bandwidth.c, Sapphire Rapids VM): a TLB miss every 4 KiB stalls
    // the stream. Slabs rather than one mapping per weight, so the small
    // matrices get huge pages too. A slab's unused end is never touched, so
    // it costs address space, not memory.
    void* alloc_weight_bytes(size_t n) {
        constexpr size_t kHugePage = size_t(2) << 20, kSlab = size_t(64) << 20;
        n = (n + 63) / 64 * 64;
        if (n > slab_left_) {
            const size_t bytes = (std::max(n, kSlab) + kHugePage - 1) / kHugePage * kHugePage;
            void* p = std::aligned_alloc(kHugePage, bytes);
            if (!p) throw std::bad_alloc();
            packed_.emplace_back(p);
            // Advice only, before the first touch: if it fails, 4 KiB pages.
            ::madvise(p, bytes, MADV_HUGEPAGE);
            slab_next_ = static_cast<char*>(p);
            slab_left_ = bytes;
        }
        void* p = slab_next_;
        slab_next_ += n;
        slab_left_ -= n;
        return p;
    }

    // Drops the pages wholly inside [p, p + n) of a read-only file mapping
    // from the process once their weight is repacked, so the peak RSS does
    // not hold both copies. They are clean file pages: nothing is lost, and
    // a later read faults them back in from the page cache or the file. The
    // pages at either end may hold a neighbouring tensor and are kept.
    static void release_pages(const void* p, size_t n) {
        const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
        const uintptr_t begin = (uintptr_t(p) + page - 1) / page * page;
        const uintptr_t end = (uintptr_t(p) + n) / page * page;
        // Advice only: if it fails the pages simply stay resident.
        if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
    }

    // matmul for a repacked weight: the activation rows quantized for the
    // repacked kernel, each thread a range of whole 8-row groups.
    void matmul_repacked(const Tensor& y, const Tensor& w, const Tensor& x, int64_t n);

    static float gelu_tanh(float x) {
        constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
        // Fused where llama.cpp's build fuses: 1 + 0.044715 x^2 is one multiply-add.
        return (0.5f * x) *
               (1.0f + std::tanh((kSqrt2OverPi * x) * std::fma(x, 0.044715f * x, 1.0f)));
    }

    // RMSNorm of n_spans spans of n floats (span(s) gives span s), the
    // threads taking runs of spans. Each span's sum of squares is one chain
    // of double adds in element order, as ggml's (squared in float), so a
    // lone span waits on every add's latency; kChains spans at a time keep
    // that many chains in flight. Gemma 3 pp128 at one thread: norms 26.4-27.4
    // -> 18.1-19.2 ms (4.7-4.9% -> 3.3-3.5% of the time); 8 chains, no better.
    static constexpr int kChains = 4;
    template <class Span>
    void rms_norm_spans(int64_t n_spans, int64_t n, Span&& span, const float* w, float eps) {
        auto run = [&](int64_t begin, int64_t end) {
            for (int64_t s = begin; s < end; s += kChains) {
                const int count = int(std::min<int64_t>(kChains, end - s));
                float* v[kChains];
                double sum[kChains] = {};
                // Past the last span, its chain again: read, not written.
                for (int k = 0; k < kChains; ++k) v[k] = span(s + std::min(k, count - 1));
                for (int64_t i = 0; i < n; ++i)
                    for (int k = 0; k < kChains; ++k) sum[k] += double(v[k][i] * v[k][i]);
                for (int k = 0; k < count; ++k) {
                    const float inv = 1.0f / std::sqrt(float(sum[k] / double(n)) + eps);
                    for (int64_t i = 0; i < n; ++i)
                        v[k][i] = w ? v[k][i] * inv * w[i] : v[k][i] * inv;
                }
            }
        };
        if (n_spans <= kChains) return run(0, n_spans);
        pool_.run([&](int t, int nt) {
            const auto [begin, end] = ThreadPool::split(n_spans, t, nt);
            run(begin, end);
        });
    }

    // The n activation rows of x quantized into act_, act_row bytes each.
    // Fewer rows than threads are quantized here: a pool run would cost a
    // wake-up and a barrier per matmul for one thread's work.
    void quantize_rows(const Tensor& x, int64_t n, size_t act_row, int64_t n_cols,
                       void (*quantize)(const float*, void*, int64_t)) {
        act_.resize(act_row * size_t(n));
        auto rows = [&](int64_t begin, int64_t end) {
            for (int64_t r = begin; r < end; ++r)
                quantize(x.row(r), act_.data() + act_row * size_t(r), n_cols);
        };
        if (n < pool_.size()) return rows(0, n);
        pool_.run([&](int t, int nt) {
            auto [begin, end] = ThreadPool::split(n, t, nt);
            rows(begin, end);
        });
    }

    // How run_chunks splits a matmul of weight w and n activation rows: into
    // `count` items of `rows` weight rows (the tile kernel's, or a repacked
    // weight's groups), each of `bytes` (the last tile may be shorter), in
    // chunks of `chunk` items.
    struct MatmulItems {
        int64_t count, chunk, rows;
        size_t bytes;
    };
    MatmulItems matmul_items(const Tensor& w, int64_t n) const {
        if (w.layout == TensorLayout::backend) {
            const int64_t rows = cpu::repack_rows(w.type);
            const int64_t count = w.n_rows / rows;
            const size_t bytes = cpu::repacked_group_bytes(w.type, w.n_cols);
            return {count, matmul_chunk(count, bytes, n, 2), rows, bytes};
        }
        const cpu::MatmulTileEntry* tiles = cpu::matmul_tiles(w.type);
        const int64_t rows = tiles ? tiles->weight_rows : cpu::kTileWeightRows;
        const int64_t count = (w.n_rows + rows - 1) / rows;
        const size_t bytes = w.row_bytes * size_t(rows);
        return {count, matmul_chunk(count, bytes, n, 1), rows, bytes};
    }

    // Decode runs the same matmuls in the same order for every token, and
    // between two of them the caller alone runs the small steps (norms,
    // RoPE, attention, activations) while the workers wait and the memory
    // bus idles. So each weight's successor is remembered, and every worker
    // prefetches the start of its share of the next weight (run_chunks takes
    // its share first) once its part of this matmul is done.
    void prefetch_next_weight(const Tensor& w, int64_t n) {
        if (n > 4) return;
        if (last_weight_) {
            successors_[last_weight_] = w;
            small_reads_after_[last_weight_].swap(small_reads_);
        }
        small_reads_.clear();
        last_weight_ = w.data;
        prefetch_small_reads_after(w);
        if (pool_.size() == 1) return;
        const auto next = successors_.find(w.data);
        if (next == successors_.end()) return;
        const Tensor& nw = next->second;
        const MatmulItems items = matmul_items(nw, n);
        const int64_t n_chunks = (items.count + items.chunk - 1) / items.chunk;
        const size_t total = nw.layout == TensorLayout::backend ? items.bytes * size_t(items.count)
                                                                : nw.row_bytes * size_t(nw.n_rows);
        for (int t = 1; t < pool_.size(); ++t) {
            const auto [begin, end] = ThreadPool::split(n_chunks, t, pool_.size());
            const size_t from = std::min(total, size_t(begin * items.chunk) * items.bytes);
            const size_t to = std::min(total, size_t(end * items.chunk) * items.bytes);
            pool_.prefetch_after_run(t, static_cast<const char*>(nw.data) + from,
                                     std::min(to - from, kNextWeightPrefetchBytes));
        }
    }
    // Decode reads each norm's weights once a token, so they come from
    // memory while the caller waits: half of rms_norm's time on Gemma 3
    // (2.5 KB a norm, 6 norms a layer). The weights read between two decode
    // matmuls are remembered with the first and prefetched as it starts, so
    // that they arrive while it runs: rms_norm went from 1.2-1.3% to 0.8% of
    // a 1-thread Gemma 3 decode (perf). A layer's KV cache, prefetched the
    // same way, changed nothing measurable at 64 slots.
    void note_small_read(const void* p, size_t bytes, int64_t n) {
        if (n <= 4 && small_reads_.size() < 64)  // a few per layer; bounded whatever the caller
            small_reads_.push_back({static_cast<const char*>(p), bytes});
    }
    void prefetch_small_reads_after(const Tensor& w) {
        const auto reads = small_reads_after_.find(w.data);
        if (reads == small_reads_after_.end()) return;
        for (const auto& [p, bytes] : reads->second)
            for (size_t offset = 0; offset < bytes; offset += 64) __builtin_prefetch(p + offset);
    }
    // At most the few hundred KiB a gap between two matmuls lasts (a
    // microsecond reads about 14 KB on one core here) and well inside L2.
    // Decode of a Qwen2.5-1.5B-shaped Q4_0 model at 2 threads (Sapphire
    // Rapids VM, alternating runs, medians): 24.58 -> 25.10 t/s with 512 KiB
    // (24.73 with 128 KiB) in 5 rounds, 25.35 -> 25.80 in 6 more.
    static constexpr size_t kNextWeightPrefetchBytes = 512 << 10;

    // Items (weight tiles or groups of item_bytes, in multiples of
    // `granule`) per chunk of a matmul's weight rows. Decode streams every
    // weight once, and a static split left one of two threads waiting for
    // the other for 10% of the time (Qwen2.5-1.5B-shaped Q4_0, Sapphire
    // Rapids VM): chunks of about 16 KiB, a microsecond or two each,
    // leave that much at most. Prefill keeps one chunk per thread, as each chunk
    // prepares its activations again.
    int64_t matmul_chunk(int64_t n_items, size_t item_bytes, int64_t n_act, int64_t granule) const {
        int64_t items = (n_items + pool_.size() - 1) / pool_.size();
        if (n_act <= 4) items = std::min<int64_t>(items, int64_t((16 << 10) / item_bytes));
        return std::max<int64_t>(1, (items + granule - 1) / granule) * granule;
    }

    template <class F>
    void for_rows(int64_t n, F&& f) {
        if (n == 1) {
            f(0);
            return;
        }
        pool_.run([&](int t, int nt) {
            auto [begin, end] = ThreadPool::split(n, t, nt);
            for (int64_t r = begin; r < end; ++r) f(r);
        });
    }

    // active_isa() is read before the pool starts, so a bad SLIM_ISA fails
    // here with no threads to stop.
    cpu::Isa isa_;
    // The encoders' float kernels (GEMM, GELU, LayerNorm); null for scalar.
    const cpu::FloatKernels* float_kernels_ = cpu::float_kernels();
    ThreadPool pool_;
    // GELU as ggml's CPU backend computes it (AttentionKernel::gelu_mul):
    // the input rounded to f16 and looked up in this table of f16 results
    // (identity above 10, zero below -10). It is as fast as it gets and keeps
    // slim's activations equal to llama.cpp's; the f16 rounding (2^-11
    // relative) is far below the quantization noise of the weights it
    // multiplies.
    std::vector<float> gelu_f16_ = [] {
        std::vector<float> t(1 << 16);
        for (uint32_t h = 0; h < t.size(); ++h)
            t[h] = fp16_to_fp32(fp32_to_fp16(gelu_tanh(fp16_to_fp32(uint16_t(h)))));
        return t;
    }();
    Buffers buffers_;  // activations, freed one by one
    Buffers packed_;   // slabs of weights (alloc_weight_bytes), kept for the backend's lifetime
    char* slab_next_ = nullptr;  // where the last slab's free end starts
    size_t slab_left_ = 0;
    std::vector<char> act_;
    // prefetch_next_weight: the weight of the last decode matmul, and the
    // weight that followed each one.
    const void* last_weight_ = nullptr;
    std::unordered_map<const void*, Tensor> successors_;
    // note_small_read: the weights read since the last decode matmul, and
    // those read after each one.
    std::vector<std::pair<const char*, size_t>> small_reads_;
    std::unordered_map<const void*, std::vector<std::pair<const char*, size_t>>> small_reads_after_;
    // Each position's cos and sin of every rotated pair, for one set of RoPE
    // parameters and one list of positions: a forward asks for the same ones
    // for q and k in every layer (cos and sin were 3.4% of a Gemma 3 pp128).
    struct RopeTable {
        RopeParams params;
        std::vector<float> freq_factors;
        std::vector<int32_t> positions;
        std::vector<float> cos_sin;  // per position, the pairs' cosines, then their sines
    };
    static constexpr size_t kRopeTables = 4;
    std::deque<RopeTable> rope_tables_;
    const std::vector<float>& rope_table(std::span<const int32_t> positions, const RopeParams& p);

    // linear: each thread's packed weight panel (cpu::FloatGemm)
    struct PanelBuffer {
        std::unique_ptr<float, AlignedFree> data;
        size_t floats = 0;
    };
    std::vector<PanelBuffer> gemm_panels_;
    // attention: each query row's cache slots (see attention())
    struct AttentionRow {
        int64_t begin, lo, hi;
    };
    std::vector<AttentionRow> rows_;
};

void CpuBackend::matmul_repacked(const Tensor& y, const Tensor& w, const Tensor& x, int64_t n) {
    const cpu::RepackedKernel* k = cpu::repacked_kernel(w.type);
    const size_t act_row = size_t(w.n_cols / 32) * k->act_block_bytes;
    quantize_rows(x, n, act_row, w.n_cols, k->quantize_act);
    // The kernel runs group by group over the activation rows it is given;
    // handing it about 256 KiB of them at a time keeps them in L2 while each
    // group passes.
    const int64_t act_block = std::max<int64_t>(4, int64_t((256 << 10) / act_row) / 4 * 4);
    const size_t y_stride = y.row_bytes / sizeof(float);
    const MatmulItems groups = matmul_items(w, n);
    prefetch_next_weight(w, n);
    pool_.run_chunks(groups.count, groups.chunk, [&](int64_t g_begin, int64_t g_end) {
        const char* wg = static_cast<const char*>(w.data) + groups.bytes * size_t(g_begin);
        for (int64_t r0 = 0; r0 < n; r0 += act_block) {
            k->gemm(w.n_cols, wg, groups.bytes, g_end - g_begin, act_.data() + act_row * size_t(r0),
                    act_row, std::min(act_block, n - r0), y.row(r0) + groups.rows * g_begin,
                    y_stride);
        }
    });
}

// YaRN's ramp between extrapolated and interpolated frequencies (see the
// YaRN paper, eq. 18-20): 0 below beta_slow rotations, 1 above beta_fast.
float rope_yarn_ramp(float low, float high, int i0) {
    const float y = (float(i0) / 2 - low) / std::max(0.001f, high - low);
    return 1 - std::min(1.0f, std::max(0.0f, y));
}

float rope_corr_dim(int n_dims, int n_ctx_orig, float n_rot, float base) {
    return float(n_dims) * std::log(float(n_ctx_orig) / (n_rot * 2 * float(M_PI))) /
           (2 * std::log(base));
}

// One head's RoPE: pair j is elements j and j + n_pairs (NeoX) or 2j and
// 2j + 1, rotated by cos[j], sin[j] with the multiply-adds fused where
// llama.cpp's build fuses them (GCC contracts its x0*cos - x1*sin). Compiled
// twice: this file is built for any x86-64, where std::fma is a libm call
// (two per pair were most of RoPE's time), and with FMA, where it is one
// instruction with the same result.
[[gnu::always_inline]] inline void rotate_pairs(float* v, int n_pairs, bool neox, const float* cos,
                                                const float* sin) {
    float* second = neox ? v + n_pairs : v + 1;
    const int stride = neox ? 1 : 2;
    for (int j = 0; j < n_pairs; ++j) {
        const float x0 = v[j * stride], x1 = second[j * stride];
        v[j * stride] = std::fma(x0, cos[j], -(x1 * sin[j]));
        second[j * stride] = std::fma(x0, sin[j], x1 * cos[j]);
    }
}

[[gnu::target("avx2,fma")]] void rotate_pairs_fma(float* v, int n_pairs, bool neox,
                                                  const float* cos, const float* sin) {
    rotate_pairs(v, n_pairs, neox, cos, sin);
}

void CpuBackend::rope(const Tensor& x, int n_head, int head_dim, std::span<const int32_t> positions,
                      const RopeParams& p) {
    const bool fma_ok = isa_ >= cpu::Isa::avx2;  // that level requires FMA (cpu_features.cpp)
    const std::vector<float>& table = rope_table(positions, p);
    const int n_pairs = p.n_rot / 2;
    for_rows(int64_t(positions.size()), [&](int64_t r) {
        const float* cos = table.data() + r * p.n_rot;  // then the n_pairs sines
        const float* sin = cos + n_pairs;
        for (int h = 0; h < n_head; ++h) {
            float* v = x.row(r) + int64_t(h) * head_dim;
            if (fma_ok)
                rotate_pairs_fma(v, n_pairs, p.layout == RopeLayout::neox, cos, sin);
            else
                rotate_pairs(v, n_pairs, p.layout == RopeLayout::neox, cos, sin);
        }
    });
}

const std::vector<float>& CpuBackend::rope_table(std::span<const int32_t> positions,
                                                 const RopeParams& p) {
    auto same = [&](const RopeTable& t) {
        const RopeParams& q = t.params;
        return q.n_rot == p.n_rot && q.freq_base == p.freq_base && q.freq_scale == p.freq_scale &&
               q.ext_factor == p.ext_factor && q.attn_factor == p.attn_factor &&
               q.beta_fast == p.beta_fast && q.beta_slow == p.beta_slow &&
               q.n_ctx_orig == p.n_ctx_orig &&
               std::equal(t.freq_factors.begin(), t.freq_factors.end(), p.freq_factors.begin(),
                          p.freq_factors.end()) &&
               std::equal(t.positions.begin(), t.positions.end(), positions.begin(),
                          positions.end());
    };
    for (const RopeTable& t : rope_tables_)
        if (same(t)) return t.cos_sin;
    // Least recently made first out: a model has a few sets of RoPE
    // parameters (Gemma 3: its local and global layers'), each asked for by
    // q and k in every layer of that kind.
    if (rope_tables_.size() == kRopeTables) rope_tables_.pop_front();
    RopeTable& t = rope_tables_.emplace_back();
    t.params = p;
    t.params.freq_factors = {};  // the copy below is compared, not the caller's memory
    t.freq_factors.assign(p.freq_factors.begin(), p.freq_factors.end());
    t.positions.assign(positions.begin(), positions.end());
    t.cos_sin.resize(positions.size() * size_t(p.n_rot));
    const float theta_scale = std::pow(p.freq_base, -2.0f / float(p.n_rot));
    float corr_low = 0, corr_high = 0;
    if (p.ext_factor != 0) {
        corr_low = std::max(
            0.0f, std::floor(rope_corr_dim(p.n_rot, p.n_ctx_orig, p.beta_fast, p.freq_base)));
        corr_high =
            std::min(float(p.n_rot - 1),
                     std::ceil(rope_corr_dim(p.n_rot, p.n_ctx_orig, p.beta_slow, p.freq_base)));
    }
    for_rows(int64_t(positions.size()), [&](int64_t r) {
        float* cs = t.cos_sin.data() + r * p.n_rot;
        float theta_base = float(positions[size_t(r)]);
        for (int i0 = 0; i0 < p.n_rot; i0 += 2) {
            const float ff = p.freq_factors.empty() ? 1.0f : p.freq_factors[size_t(i0 / 2)];
            const float theta_extrap = theta_base / ff;
            const float theta_interp = p.freq_scale * theta_extrap;
            float theta = theta_interp, mscale = p.attn_factor;
            if (p.ext_factor != 0) {
                const float mix = rope_yarn_ramp(corr_low, corr_high, i0) * p.ext_factor;
                theta = theta_interp * (1 - mix) + theta_extrap * mix;
                mscale *= 1.0f + 0.1f * std::log(1.0f / p.freq_scale);
            }
            cs[i0 / 2] = std::cos(theta) * mscale;
            cs[p.n_rot / 2 + i0 / 2] = std::sin(theta) * mscale;
            theta_base *= theta_scale;
        }
    });
    return t.cos_sin;
}

void CpuBackend::attention(const Tensor& out, const Tensor& q, const Tensor& k_cache,
                           const Tensor& v_cache, std::span<const int32_t> q_positions,
                           std::span<const int32_t> kv_positions, const AttentionParams& p) {
    const int64_t n_q = int64_t(q_positions.size());
    const int64_t n_kv = int64_t(kv_positions.size());
    const int group = p.n_head / p.n_head_kv;
    const int64_t n_tasks = n_q * p.n_head;
    // llama.cpp sums q.k and p.v through llamafile's GEMM when two or more
    // tokens are evaluated together and through ggml_vec_dot_f16 for one;
    // the lanes each product lands in and their reduction follow suit.
    const bool one_token = n_q == 1 || p.head_dim % ggml::kLanes != 0;
    const int lanes = one_token ? ggml::kVecDotLanes : ggml::kLanes;
    const cpu::AttentionKernel& kernel = cpu::attention_kernel();

    // Each query row's slots: its sequence's, from begin (lanes and softmax
    // chunks count from there), narrowed to [lo, hi), the ones its mask may
    // let through. Where the positions increase with the slot, as decoders
    // and encoders store them, [lo, hi) is exactly the visible slots;
    // otherwise every slot in it is checked.
    rows_.assign(size_t(n_q), {0, 0, n_kv});
    bool increasing = true;
    auto check_increasing = [&](int64_t begin, int64_t end) {
        for (int64_t s = begin + 1; s < end && increasing; ++s)
            increasing = kv_positions[s] > kv_positions[s - 1];
    };
    if (p.seq_starts.empty()) check_increasing(0, n_kv);
    for (size_t j = 0; j + 1 < p.seq_starts.size(); ++j) {
        const int64_t begin = p.seq_starts[j], end = p.seq_starts[j + 1];
        check_increasing(begin, end);
        for (int64_t i = begin; i < end && i < n_q; ++i) rows_[size_t(i)] = {begin, begin, end};
    }
    auto masked = [&](int32_t pos, int32_t kp) {
        return (p.causal && kp > pos) || (p.sliding_window > 0 && pos - kp >= p.sliding_window);
    };
    if (increasing) {
        for (int64_t i = 0; i < n_q; ++i) {
            AttentionRow& r = rows_[size_t(i)];
            const int32_t pos = q_positions[i];
            const auto first = kv_positions.begin();
            if (p.causal) r.hi = std::upper_bound(first + r.lo, first + r.hi, pos) - first;
            if (p.sliding_window > 0)
                r.lo = std::upper_bound(first + r.lo, first + r.hi, pos - p.sliding_window) - first;
        }
    }

    pool_.run([&](int t, int nt) {
        // Scores of whole softmax chunks: up to 15 masked slots either side.
        std::vector<float> scores(static_cast<size_t>(n_kv + 2 * ggml::kLanes));
        std::vector<float> qv(static_cast<size_t>(p.head_dim));

        auto [task_begin, task_end] = ThreadPool::split(n_tasks, t, nt);
        for (int64_t task = task_begin; task < task_end; ++task) {
            const int64_t i = task / p.n_head;
            const int h = int(task % p.n_head);
            const int hk = h / group;
            const auto [begin, lo, hi] = rows_[size_t(i)];
            float* o = out.row(i) + int64_t(h) * p.head_dim;
            if (lo >= hi) {
                std::fill(o, o + p.head_dim, 0.0f);
                continue;
            }
            // As llama.cpp without flash attention: q and the probabilities are
            // rounded to F16 to meet the F16 cache, and the softmax uses ggml's
            // exp (see ggml_math.h).
            const float* qsrc = q.row(i) + int64_t(h) * p.head_dim;
            std::copy(qsrc, qsrc + p.head_dim, qv.begin());
            kernel.scale_to_f16(qv.data(), p.head_dim, 1.0f);  // x * 1 is exact: rounds only
            const int32_t pos = q_positions[i];
            auto k_row = [&](int64_t s) {
                return reinterpret_cast<const uint16_t*>(static_cast<const char*>(k_cache.data) +
                                                         k_cache.row_bytes * s) +
                       int64_t(hk) * p.head_dim;
            };
            auto v_row = [&](int64_t s) {
                return reinterpret_cast<const uint16_t*>(static_cast<const char*>(v_cache.data) +
                                                         v_cache.row_bytes * s) +
                       int64_t(hk) * p.head_dim;
            };
            // The softmax chunks that hold [lo, hi), counted from begin.
            const int64_t c_lo = begin + (lo - begin) / ggml::kLanes * ggml::kLanes;
            const int64_t c_hi =
                begin + (hi - begin + ggml::kLanes - 1) / ggml::kLanes * ggml::kLanes;
            float* sc = scores.data() - c_lo;  // sc[s] for s in [c_lo, c_hi)
            std::fill(sc + c_lo, sc + lo, -INFINITY);
            std::fill(sc + hi, sc + c_hi, -INFINITY);
            float max_score = -INFINITY;
            auto score = [&](int64_t s, double dot) {
                float x = float(dot) * p.scale;
                if (p.softcap > 0) x = p.softcap * std::tanh(x / p.softcap);
                sc[s] = x;
                max_score = std::max(max_score, x);
            };
            int64_t first_single = lo;
            if (increasing) {  // every slot in [lo, hi) is visible: four at a time
                for (; first_single + 4 <= hi; first_single += 4) {
                    const int64_t s = first_single;
                    const uint16_t* keys[4] = {k_row(s), k_row(s + 1), k_row(s + 2), k_row(s + 3)};
                    double dots[4];
                    kernel.dot_f16_x4(qv.data(), keys, p.head_dim, lanes, dots);
                    for (int j = 0; j < 4; ++j) score(s + j, dots[j]);
                }
            }
            for (int64_t s = first_single; s < hi; ++s) {
                if (!increasing && masked(pos, kv_positions[s])) {
                    sc[s] = -INFINITY;
                    continue;
                }
                score(s, kernel.dot_f16(qv.data(), k_row(s), p.head_dim, lanes));
            }
            if (max_score == -INFINITY) {
                std::fill(o, o + p.head_dim, 0.0f);
                continue;
            }
            // Sums 16 at a time in float, then in double, as ggml_vec_soft_max_f32.
            const float inv = float(1.0 / kernel.softmax_exp(sc + c_lo, c_hi - c_lo, max_score));
            // p.v: slot s goes to lane (s - begin) % lanes (llama.cpp pads the
            // cache to a multiple of 256 slots, so no slot is left over). The
            // probabilities are rounded to F16 first, as ggml converts them.
            kernel.scale_to_f16(sc + lo, hi - lo, inv);
            kernel.weighted_sum_f16(sc + lo, v_row(lo), v_cache.row_bytes / sizeof(uint16_t),
                                    hi - lo, (lo - begin) % lanes, lanes, p.head_dim, o);
        }
    });
}

}  // namespace

std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& options) {
    return std::make_unique<CpuBackend>(options);
}

}  // namespace slim
