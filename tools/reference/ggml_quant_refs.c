/* Quantizes floats with ggml's own reference quantizers (quantize_row_*_ref in
 * ggml/src/ggml-quants.c). make_ggml_quant_refs.py compiles this together with
 * the ggml-quants.c that llama-cpp-python vendors; nothing of slim is linked.
 *
 * stdin:  u32 ggml type id, u64 element count n, n float32 (little-endian)
 * stdout: the quantized bytes
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ggml-quants.h"

/* The few ggml symbols ggml-quants.c refers to outside the _ref paths. */
void ggml_abort(const char* file, int line, const char* fmt, ...) {
    fprintf(stderr, "ggml_abort at %s:%d (%s)\n", file, line, fmt);
    abort();
}
size_t ggml_row_size(enum ggml_type type, int64_t ne) { (void)type; (void)ne; abort(); }
const char* ggml_type_name(enum ggml_type type) { (void)type; return "?"; }
size_t ggml_type_size(enum ggml_type type) { (void)type; abort(); }

typedef void (*quantize_fn)(const float*, void*, int64_t);

static int lookup(uint32_t type, quantize_fn* fn, int* block_size, int* type_size) {
#define TYPE(ID, FN, QK, SIZE) \
    case ID: *fn = (quantize_fn)FN; *block_size = QK; *type_size = SIZE; return 1;
    switch (type) {
        TYPE(GGML_TYPE_Q4_0, quantize_row_q4_0_ref, QK4_0, sizeof(block_q4_0))
        TYPE(GGML_TYPE_Q4_1, quantize_row_q4_1_ref, QK4_1, sizeof(block_q4_1))
        TYPE(GGML_TYPE_Q5_0, quantize_row_q5_0_ref, QK5_0, sizeof(block_q5_0))
        TYPE(GGML_TYPE_Q5_1, quantize_row_q5_1_ref, QK5_1, sizeof(block_q5_1))
        TYPE(GGML_TYPE_Q8_0, quantize_row_q8_0_ref, QK8_0, sizeof(block_q8_0))
        TYPE(GGML_TYPE_Q8_1, quantize_row_q8_1_ref, QK8_1, sizeof(block_q8_1))
        TYPE(GGML_TYPE_Q2_K, quantize_row_q2_K_ref, QK_K, sizeof(block_q2_K))
        TYPE(GGML_TYPE_Q3_K, quantize_row_q3_K_ref, QK_K, sizeof(block_q3_K))
        TYPE(GGML_TYPE_Q4_K, quantize_row_q4_K_ref, QK_K, sizeof(block_q4_K))
        TYPE(GGML_TYPE_Q5_K, quantize_row_q5_K_ref, QK_K, sizeof(block_q5_K))
        TYPE(GGML_TYPE_Q6_K, quantize_row_q6_K_ref, QK_K, sizeof(block_q6_K))
        TYPE(GGML_TYPE_Q8_K, quantize_row_q8_K_ref, QK_K, sizeof(block_q8_K))
        TYPE(GGML_TYPE_IQ4_NL, quantize_row_iq4_nl_ref, QK4_NL, sizeof(block_iq4_nl))
        TYPE(GGML_TYPE_IQ4_XS, quantize_row_iq4_xs_ref, QK_K, sizeof(block_iq4_xs))
        default: return 0;
    }
#undef TYPE
}

int main(void) {
    uint32_t type;
    uint64_t n;
    if (fread(&type, 4, 1, stdin) != 1 || fread(&n, 8, 1, stdin) != 1) return 2;
    quantize_fn fn;
    int block_size, type_size;
    if (!lookup(type, &fn, &block_size, &type_size) || n % (uint64_t)block_size != 0) return 3;
    float* x = malloc(n * sizeof(float));
    if (!x || fread(x, sizeof(float), n, stdin) != n) return 4;
    const size_t n_bytes = n / (uint64_t)block_size * (uint64_t)type_size;
    /* Zeroed: Q8_K leaves bsums unwritten for an all-zero block. */
    uint8_t* y = calloc(n_bytes, 1);
    if (!y) return 5;
    fn(x, y, (int64_t)n);
    if (fwrite(y, 1, n_bytes, stdout) != n_bytes) return 6;
    free(x);
    free(y);
    return 0;
}
