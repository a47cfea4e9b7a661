// SPDX-License-Identifier: Apache-2.0
#include "keys/shamir/gf256.h"

namespace strongroom::keys::shamir {

uint8_t GfMul(uint8_t a, uint8_t b) {
  unsigned x = a;
  unsigned y = b;
  unsigned product = 0;
  for (int i = 0; i < 8; ++i) {
    // mask = 0xff when the low bit of y is set, else 0: no branch.
    unsigned mask = 0u - (y & 1u);
    product ^= x & mask;
    y >>= 1;
    // Multiply x by the generator x (shift) and reduce when bit 7 was set.
    unsigned carry = 0u - ((x >> 7) & 1u);
    x = ((x << 1) ^ (0x1bu & carry)) & 0xffu;
  }
  return static_cast<uint8_t>(product & 0xffu);
}

uint8_t GfInv(uint8_t a) {
  // 254 = 0b11111110: a^254 = a^2 · a^4 · a^8 · ... · a^128.
  uint8_t square = GfMul(a, a);  // a^2
  uint8_t result = square;
  for (int i = 0; i < 6; ++i) {
    square = GfMul(square, square);  // a^4, a^8, ..., a^128
    result = GfMul(result, square);
  }
  return result;
}

}  // namespace strongroom::keys::shamir
