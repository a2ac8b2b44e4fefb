// SHA256_Init and friends are deprecated in OpenSSL 3 but stay in libcrypto: they are the only
// way to save a digest's state and take it up again (a resumed upload's SHA-256).
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/hmac.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
