/*
 * Private keys that stay inside an OpenSSL engine: source = engine:ENGINE_ID:KEY_ID,
 * e.g. engine:pkcs11:pkcs11:token=lurk;object=www;type=private with libp11's
 * pkcs11 engine, the HSM route on Debian 12 (which packages no pkcs11
 * provider). KEY_ID is the engine's own key id; for pkcs11 an RFC 7512 URI.
 * The key's engine_module and pin_file settings go to the engine;
 * docs/deploy.md §9 describes the setup. The EVP_PKEY works with sign.c's
 * context cache as is: copies of an engine key's signing context still have
 * the token do each signature.
 */
#ifndef LURKD_KEYS_ENGINE_KEY_H
#define LURKD_KEYS_ENGINE_KEY_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>

#include "conf/config.h"

/*
 * Loads the key of conf, an engine source; cfg holds the other keys, which
 * share the engine's module. On success *engine is a functional reference to
 * the engine, to release with lurkd_engine_release once the key is freed. On
 * failure returns NULL with the reason in why and, in *at, the "file:line" of
 * the setting at fault. Called from one thread at a time (startup, reload).
 */
EVP_PKEY *lurkd_engine_load_key(const struct lurkd_config *cfg, const struct lurkd_key_conf *conf,
                                ENGINE **engine, char *why, size_t whylen, const char **at);
void lurkd_engine_release(ENGINE *engine);

#endif
