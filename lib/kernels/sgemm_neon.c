/*
 * sgemm for AArch64 Advanced SIMD (always present on AArch64). Register
 * tile 8 x 12: 24 accumulators of the 32 vector registers. Packing uses
 * the template's portable loops.
 *
 * SPDX-License-Identifier: MIT
 */
#include "vec_neon.h"

#define GEMM_MR 8
#define GEMM_NV 3
#define GEMM_KC 256
#define GEMM_SUFFIX(name) name##_neon

#include "gemm_template.h"

const vaei_kernels vaei_kernels_neon = {
    .name = "neon",
    .sgemm = sgemm_neon,
    .set_threads = NULL,
    .vec = &vaei_vec_neon,
};
