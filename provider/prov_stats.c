/*
 * The counters file (docs/provider.md §4 "Counters"): one line per server
 * of the table, rewritten to <lurk-stats>.<pid> through a temporary file
 * and a rename, so a reader never sees half a file. Called by the health
 * thread, or by a request when the process has none (prov_health.c).
 * The temporary file is made anew, never followed through a symlink: the
 * directory may be one other users can write to.
 */
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "lurk/clock.h"
#include "prov_fleet.h"
#include "provider.h"

void lurk_prov_stats_write(LURK_PROV_CTX *pc)
{
    struct lurk_prov_fleet *f = pc->fleet;
    char path[4200], tmp[4300];
    struct timespec ts;
    FILE *out;
    int fd;

    snprintf(path, sizeof(path), "%s.%ld", pc->cfg.stats_path, (long)getpid());
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    unlink(tmp); /* one a previous writer left, or someone planted */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    out = fdopen(fd, "w");
    if (out == NULL) {
        close(fd);
        unlink(tmp);
        return;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    fprintf(out, "# lurk provider counters, pid %ld, written %lld\n", (long)getpid(),
            (long long)ts.tv_sec);
    pthread_mutex_lock(&f->mu);
    for (int s = 0; s < LURK_PROV_MAX_TARGETS; s++) {
        const struct lurk_prov_slot *sl = &f->slots[s];
        if (!sl->used)
            continue;
        fprintf(out,
                "server=\"%s\" state=%s role=%s weight=%d requests=%llu failures=%llu "
                "failovers=%llu probes=%llu outstanding=%u latency_avg_ms=%.1f "
                "latency_max_ms=%llu\n",
                sl->addr.text,
                sl->gone   ? "gone"
                : sl->down ? "down"
                           : "up",
                sl->pinned   ? "keyref"
                : sl->backup ? "backup"
                             : "primary",
                sl->weight, (unsigned long long)sl->requests, (unsigned long long)sl->failures,
                (unsigned long long)sl->failovers, (unsigned long long)sl->probes, sl->outstanding,
                sl->answered > 0 ? (double)sl->latency_sum_ms / (double)sl->answered : 0.0,
                (unsigned long long)sl->latency_max_ms);
    }
    pthread_mutex_unlock(&f->mu);
    if (fclose(out) != 0 || rename(tmp, path) != 0)
        unlink(tmp);
}
