/*
 * The configuration and keys in force, as one reference-counted snapshot.
 * SIGHUP builds a new snapshot and installs it atomically; requests in
 * flight finish with the snapshot they started with.
 */
#ifndef LURKD_CONF_RUNTIME_H
#define LURKD_CONF_RUNTIME_H

#include <stdatomic.h>
#include <stdint.h>

#include "conf/config.h"
#include "keys/keystore.h"
#include "lurk/lurk.h"

struct lurkd_runtime {
    atomic_int refs;
    struct lurkd_config *cfg;
    struct lurkd_keystore *keys;
    /* lurk_state (lurk-lurk §4.2): changes when keys or their policy change. */
    uint8_t state[LURK_STATE_LEN];
};

/* Takes ownership of cfg (freed on failure too); loads the keys. */
struct lurkd_runtime *lurkd_runtime_build(struct lurkd_config *cfg, char *err, size_t errlen);
void lurkd_runtime_unref(struct lurkd_runtime *rt);

/* The snapshot in force, with a reference the caller drops with unref. */
struct lurkd_runtime *lurkd_runtime_acquire(void);
/* Installs rt (taking the caller's reference) and drops the old one. */
void lurkd_runtime_install(struct lurkd_runtime *rt);

#endif
