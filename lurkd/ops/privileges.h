/*
 * What lurkd does to its own process so that a bug elsewhere, or another
 * process on the host, cannot reach the keys (docs/security.md, "A hardened
 * process"): no core dumps and not dumpable (no ptrace, no /proc/PID/mem for
 * other processes of the same user), and, when started as root, the
 * privileges of the configured user once the listeners are bound and the
 * keys loaded.
 */
#ifndef LURKD_OPS_PRIVILEGES_H
#define LURKD_OPS_PRIVILEGES_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/config.h"

/* lurkd_privileges_harden: no core files, not dumpable; first thing at start. */
bool lurkd_privileges_harden(char *err, size_t errlen);
/*
 * lurkd_privileges_allowed: false (with the reason in err) when lurkd runs
 * as root with neither a user to drop to nor run_as_root.
 */
bool lurkd_privileges_allowed(const struct lurkd_config *cfg, char *err, size_t errlen);
/*
 * lurkd_privileges_drop: as root with a user, becomes that user and group
 * (no supplementary groups), for good; anything else is left as it is (a
 * user setting without root is only noted in the log).
 */
bool lurkd_privileges_drop(const struct lurkd_config *cfg, char *err, size_t errlen);

#endif
