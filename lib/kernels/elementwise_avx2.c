/*
 * The element-wise kernels for avx2 (elementwise_template.h), compiled
 * with the same flags as sgemm_avx2.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include "vec_avx2.h"

#define EW_SUFFIX(name) name##_avx2

#include "elementwise_template.h"
