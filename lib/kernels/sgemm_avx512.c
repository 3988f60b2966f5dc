/*
 * sgemm for AVX-512 F/DQ/BW/VL (compiled with those flags; chosen at run
 * time only when CPUID and XCR0 say the CPU and the OS support them).
 * Register tile 8 x 32: 16 accumulators, 2 loads of B and 8 broadcasts
 * of A per k; masked loads and stores at the edges.
 *
 * SPDX-License-Identifier: MIT
 */
#include "transpose_avx.h"
#include "vec_avx512.h"

#define GEMM_MR 8
#define GEMM_NV 2
#define GEMM_KC 160 /* B panel 160 x 32 floats + A panel: 25 KiB of the 32 KiB L1 */
#define GEMM_SUFFIX(name) name##_avx512

#define GEMM_TRANSPOSE8 vaei_transpose8

#include "gemm_template.h"

const vaei_kernels vaei_kernels_avx512 = {
    .name = "avx512",
    .sgemm = sgemm_avx512,
    .set_threads = NULL,
    .vec = &vaei_vec_avx512,
};
