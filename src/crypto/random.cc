// SPDX-License-Identifier: Apache-2.0
#include "crypto/random.h"

#include <climits>

#include <openssl/rand.h>

namespace strongroom::crypto {

Result<void> RandomFill(MutableByteView out) {
  size_t done = 0;
  while (done < out.size()) {
    size_t n = std::min<size_t>(out.size() - done, INT_MAX);
    if (RAND_bytes(out.data() + done, static_cast<int>(n)) != 1) {
      return Internal("the system random number generator failed");
    }
    done += n;
  }
  return Ok();
}

Result<Bytes> RandomBytes(size_t size) {
  Bytes out(size);
  STRONGROOM_RETURN_IF_ERROR(RandomFill(out));
  return out;
}

Result<SecretBytes> RandomSecret(size_t size) {
  SecretBytes out(size);
  STRONGROOM_RETURN_IF_ERROR(RandomFill(out.mutable_reveal()));
  return out;
}

}  // namespace strongroom::crypto
