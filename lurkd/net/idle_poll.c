/* Polling before sleeping; see idle_poll.h. */
#include "net/idle_poll.h"

#include "lurk/clock.h"
#include "lurk/poll_window.h"
#include "net/worker.h"

static atomic_uint cap_us;
/* Each I/O loop is one thread: its window is its own. */
static _Thread_local uint32_t window_ns;

void lurkd_idle_poll_set_cap(unsigned cap)
{
    atomic_store(&cap_us, cap);
}

uint32_t lurkd_idle_poll_window_ns(void)
{
    return window_ns;
}

int lurkd_idle_poll_wait(int epfd, struct epoll_event *events, int max, int timeout_ms,
                         const atomic_bool *stop)
{
    uint32_t cap = atomic_load_explicit(&cap_us, memory_order_relaxed) * 1000u;
    enum lurk_poll_end end = LURK_POLL_EMPTY;
    int64_t start, last, until;
    int n, left;

    /*
     * A busy worker needs a CPU more than this loop needs to be awake (the
     * spinning workers of performance.md, "Latency", lost by taking it):
     * poll only when the pool is idle, which is also when this loop has
     * just answered everything itself or written the workers' answers.
     */
    if (cap == 0 || timeout_ms == 0 || !lurkd_workers_seem_idle()) {
        n = epoll_wait(epfd, events, max, timeout_ms);
        return n < 0 ? 0 : n;
    }
    start = last = lurk_clock_ns();
    /* Never past the loop's next deadline. */
    until = start + (window_ns < cap ? window_ns : cap);
    if (timeout_ms > 0 && until > start + (int64_t)timeout_ms * 1000000)
        until = start + (int64_t)timeout_ms * 1000000;
    bool preempted = false;
    while (last < until && !atomic_load_explicit(stop, memory_order_relaxed)) {
        n = epoll_wait(epfd, events, max, 0);
        if (n > 0) {
            window_ns = lurk_poll_adapt(window_ns, cap, (uint64_t)(lurk_clock_ns() - start),
                                        LURK_POLL_POLLED);
            return n;
        }
        lurk_poll_relax();
        int64_t t = lurk_clock_ns();
        preempted = t - last > LURK_POLL_PREEMPTED_NS;
        if (preempted)
            break;
        last = t;
    }
    left = timeout_ms;
    if (timeout_ms > 0) {
        int64_t polled_ms = (lurk_clock_ns() - start) / 1000000;
        left = polled_ms < timeout_ms ? timeout_ms - (int)polled_ms : 0;
    }
    n = epoll_wait(epfd, events, max, left);
    if (n > 0 && !preempted)
        end = LURK_POLL_WOKEN;
    window_ns = lurk_poll_adapt(window_ns, cap, (uint64_t)(lurk_clock_ns() - start), end);
    return n < 0 ? 0 : n;
}
