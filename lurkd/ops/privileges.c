/* Process hardening and privilege drop; see privileges.h. */
#include "ops/privileges.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "ops/log.h"

bool lurkd_privileges_harden(char *err, size_t errlen)
{
    struct rlimit core, none = {0, 0};

    /*
     * Already none (systemd's LimitCORE=0 in docs/deploy.md's unit): no
     * setrlimit, which that unit's system call filter does not allow.
     */
    if (getrlimit(RLIMIT_CORE, &core) != 0 || core.rlim_cur != 0 || core.rlim_max != 0)
        if (setrlimit(RLIMIT_CORE, &none) != 0) {
            snprintf(err, errlen, "cannot turn core dumps off: %s", strerror(errno));
            return false;
        }
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        snprintf(err, errlen, "cannot make the process undumpable: %s", strerror(errno));
        return false;
    }
    return true;
}

bool lurkd_privileges_allowed(const struct lurkd_config *cfg, char *err, size_t errlen)
{
    if (geteuid() != 0 || cfg->user != NULL || cfg->run_as_root)
        return true;
    snprintf(err, errlen,
             "%s%srefusing to run as root: set user (and group) in [lurkd], or --user, to drop "
             "privileges once the listeners are bound and the keys loaded; or run_as_root = yes",
             cfg->path ? cfg->path : "", cfg->path ? ": " : "");
    return false;
}

bool lurkd_privileges_drop(const struct lurkd_config *cfg, char *err, size_t errlen)
{
    if (cfg->user == NULL) {
        if (geteuid() == 0)
            lurkd_warn("running as root (run_as_root = yes)");
        return true;
    }
    if (geteuid() != 0) {
        lurkd_notice("user %s (%s) ignored: lurkd was not started as root", cfg->user,
                     cfg->user_where);
        return true;
    }
    /* Groups first: once the uid is not 0, they cannot change any more. */
    if (setgroups(0, NULL) != 0 || setresgid(cfg->gid, cfg->gid, cfg->gid) != 0 ||
        setresuid(cfg->uid, cfg->uid, cfg->uid) != 0) {
        snprintf(err, errlen, "%s: cannot become user %s: %s", cfg->user_where, cfg->user,
                 strerror(errno));
        return false;
    }
    /* For good: root cannot be had back. Changing credentials resets dumpable: again. */
    if (setuid(0) == 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
        snprintf(err, errlen, "%s: root privileges remain after becoming user %s", cfg->user_where,
                 cfg->user);
        return false;
    }
    lurkd_notice("running as user %s (uid %u, gid %u)", cfg->user, (unsigned)cfg->uid,
                 (unsigned)cfg->gid);
    return true;
}
