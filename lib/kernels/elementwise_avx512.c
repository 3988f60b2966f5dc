/*
 * The element-wise kernels for avx512 (elementwise_template.h), compiled
 * with the same flags as sgemm_avx512.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include "vec_avx512.h"

#define EW_SUFFIX(name) name##_avx512

#include "elementwise_template.h"
