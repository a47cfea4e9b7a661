// SPDX-License-Identifier: Apache-2.0
#pragma once

#include "base/bytes.h"

namespace strongroom::crypto {

// True iff `a` and `b` have the same length and contents. The time taken
// depends only on the lengths, never on where the inputs differ
// (CRYPTO_memcmp). Use for tags, commitments, signatures and secrets.
bool ConstantTimeEquals(ByteView a, ByteView b);

}  // namespace strongroom::crypto
