// The C header test compiled as C++ (see header_test.c).
// SPDX-License-Identifier: MIT
#include "header_test.c"
