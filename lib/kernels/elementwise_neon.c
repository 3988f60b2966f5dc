/*
 * The element-wise kernels for neon (elementwise_template.h), compiled
 * with the same flags as sgemm_neon.c.
 *
 * SPDX-License-Identifier: MIT
 */
#include "vec_neon.h"

#define EW_SUFFIX(name) name##_neon

#include "elementwise_template.h"
