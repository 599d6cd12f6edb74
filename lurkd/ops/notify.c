/* sd_notify; see notify.h. */
#include "ops/notify.h"

#include <time.h>

#include <systemd/sd-daemon.h>

#include "ops/log.h"

static void notify(const char *what, int rc)
{
    if (rc < 0)
        lurkd_warn("sd_notify %s: error %d", what, -rc);
}

void lurkd_notify_ready(const char *status)
{
    notify("READY", sd_notifyf(0, "READY=1\nSTATUS=%s", status));
}

/* systemd 253's Type=notify-reload wants the time the reload started (sd_notify(3)). */
void lurkd_notify_reloading(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    notify("RELOADING", sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
                                   (unsigned long long)ts.tv_sec * 1000000ull +
                                       (unsigned long long)ts.tv_nsec / 1000ull));
}

void lurkd_notify_stopping(void)
{
    notify("STOPPING", sd_notify(0, "STOPPING=1"));
}
