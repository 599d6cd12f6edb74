/* Polling before sleeping; see idle_poll.h. */
#include "net/idle_poll.h"

#include <time.h>

#include "net/worker.h"

/*
 * The first window after polling was off: about one client round trip on a
 * unix socket (docs/performance.md, "Polling before sleeping").
 */
#define GROW_START_NS 16000u
/* A shrinking window this small is worth nothing: stop polling. */
#define SHRINK_FLOOR_NS 2000u
/*
 * Two polls this far apart: the scheduler gave this CPU to another thread
 * (a worker, the client) or the host took the vCPU. Someone else needs the
 * CPU, so the loop stops polling and blocks (the rejected spinning workers
 * of performance.md, "Latency", lost by competing for the CPUs).
 */
#define PREEMPTED_NS 20000
/* cpu_relax between two polls: about a microsecond with the epoll_wait. */
#define RELAX_PER_POLL 16

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

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#else
    __asm__ __volatile__("" ::: "memory");
#endif
}

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint32_t lurkd_idle_poll_adapt(uint32_t window, uint32_t cap, uint64_t idle_ns,
                               enum lurkd_idle_end end)
{
    if (end == LURKD_IDLE_POLLED)
        return window > cap ? cap : window;
    if (end == LURKD_IDLE_WOKEN && idle_ns <= cap) {
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

int lurkd_idle_poll_wait(int epfd, struct epoll_event *events, int max, int timeout_ms,
                         const atomic_bool *stop)
{
    uint32_t cap = atomic_load_explicit(&cap_us, memory_order_relaxed) * 1000u;
    enum lurkd_idle_end end = LURKD_IDLE_EMPTY;
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
    start = last = now_ns();
    /* Never past the loop's next deadline. */
    until = start + (window_ns < cap ? window_ns : cap);
    if (timeout_ms > 0 && until > start + (int64_t)timeout_ms * 1000000)
        until = start + (int64_t)timeout_ms * 1000000;
    bool preempted = false;
    while (last < until && !atomic_load_explicit(stop, memory_order_relaxed)) {
        n = epoll_wait(epfd, events, max, 0);
        if (n > 0) {
            window_ns = lurkd_idle_poll_adapt(window_ns, cap, (uint64_t)(now_ns() - start),
                                              LURKD_IDLE_POLLED);
            return n;
        }
        for (int i = 0; i < RELAX_PER_POLL; i++)
            cpu_relax();
        int64_t t = now_ns();
        preempted = t - last > PREEMPTED_NS;
        if (preempted)
            break;
        last = t;
    }
    left = timeout_ms;
    if (timeout_ms > 0) {
        int64_t polled_ms = (now_ns() - start) / 1000000;
        left = polled_ms < timeout_ms ? timeout_ms - (int)polled_ms : 0;
    }
    n = epoll_wait(epfd, events, max, left);
    if (n > 0 && !preempted)
        end = LURKD_IDLE_WOKEN;
    window_ns = lurkd_idle_poll_adapt(window_ns, cap, (uint64_t)(now_ns() - start), end);
    return n < 0 ? 0 : n;
}
