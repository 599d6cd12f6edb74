/* Keys the tests make that the provider and lurkd do not offer. */
#ifndef LURK_TEST_KEYS_H
#define LURK_TEST_KEYS_H

#include <openssl/types.h>

/* lurk_test_dsa_keygen returns a 1024-bit DSA key (quick to make), or NULL. */
EVP_PKEY *lurk_test_dsa_keygen(void);

#endif
