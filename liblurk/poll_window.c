/* The polling window's adaptation; see poll_window.h. */
#include "lurk/poll_window.h"

/*
 * The first window after polling was off: about one client round trip on a
 * unix socket (docs/performance.md, "Polling before sleeping").
 */
#define GROW_START_NS 16000u
/* A shrinking window this small is worth nothing: stop polling. */
#define SHRINK_FLOOR_NS 2000u

uint32_t lurk_poll_adapt(uint32_t window, uint32_t cap, uint64_t waited_ns, enum lurk_poll_end end)
{
    if (cap == 0)
        return 0;
    if (end == LURK_POLL_POLLED)
        return window > cap ? cap : window;
    if (end == LURK_POLL_WOKEN && waited_ns <= cap) {
        /* Polling a little longer would have caught it. */
        uint64_t grown = (uint64_t)window * 2;
        if (grown < GROW_START_NS)
            grown = GROW_START_NS;
        return grown > cap ? cap : (uint32_t)grown;
    }
    /* Nothing within the cap, or the CPU was wanted elsewhere. */
    window /= 2;
    return window < SHRINK_FLOOR_NS ? 0 : window;
}
