// SPDX-License-Identifier: Apache-2.0
#pragma once

// Arithmetic in GF(2^8) with the AES reduction polynomial
// x^8 + x^4 + x^3 + x + 1 (0x11b), for Shamir's secret sharing.
//
// Constant time: no branch and no table lookup depends on an operand, so
// the share bytes and secret bytes that pass through here do not show in
// timing or cache behaviour. Addition (and subtraction) is XOR.

#include <cstdint>

namespace strongroom::keys::shamir {

// a · b. Shift-and-add ("Russian peasant") with masks instead of branches.
uint8_t GfMul(uint8_t a, uint8_t b);

// a^-1 as a^254 (Fermat: a^255 = 1 for a ≠ 0), a fixed square-and-multiply
// chain. GfInv(0) = 0.
uint8_t GfInv(uint8_t a);

}  // namespace strongroom::keys::shamir
