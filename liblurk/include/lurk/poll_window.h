/*
 * Polling before sleeping, the part lurkd's I/O loops and the client share:
 * how long to poll before blocking. A waiter that expects an event soon
 * polls for a window before it sleeps, so that the event finds it awake
 * instead of paying the wake-up of an idle vCPU (docs/performance.md,
 * "Polling before sleeping" and "Polling for the answer"). The window
 * adapts as Linux's guest haltpoll governor adapts its own: it grows when
 * the waiter blocked and was woken within the cap (polling longer would
 * have caught the event), shrinks when the event came later than the cap,
 * or not at all, or when the poll lost the CPU, so that a waiter whose
 * events are sparse, late or slow stops polling. A cap of 0 never polls.
 */
#ifndef LURK_POLL_WINDOW_H
#define LURK_POLL_WINDOW_H

#include <stdint.h>

/*
 * Two polls this far apart (ns): the scheduler gave the CPU to another
 * thread or the host took the vCPU. Someone else needs the CPU, so the
 * waiter stops polling and blocks (docs/performance.md, "Latency": the
 * rejected spinning workers lost by competing for the CPUs).
 */
#define LURK_POLL_PREEMPTED_NS 20000

/* How a wait ended, for lurk_poll_adapt. */
enum lurk_poll_end {
    LURK_POLL_POLLED, /* the event came while polling */
    LURK_POLL_WOKEN,  /* the waiter blocked and the event woke it */
    LURK_POLL_EMPTY,  /* nothing came: a timeout, or the poll gave up the CPU */
};

/*
 * lurk_poll_adapt returns the next window (ns) after a wait of waited_ns
 * that ended as end, with window_ns in force and cap_ns the cap (0: the
 * window is 0). Pure, for the unit tests.
 */
uint32_t lurk_poll_adapt(uint32_t window_ns, uint32_t cap_ns, uint64_t waited_ns,
                         enum lurk_poll_end end);

/* A pause between two polls: about a microsecond with the poll's system call. */
static inline void lurk_poll_relax(void)
{
    for (int i = 0; i < 16; i++) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ __volatile__("yield" ::: "memory");
#else
        __asm__ __volatile__("" ::: "memory");
#endif
    }
}

#endif
