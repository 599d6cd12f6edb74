/*
 * Polling before sleeping: an I/O loop that runs out of events polls its
 * epoll set for a short window before it blocks, so that a request arriving
 * right after finds it awake instead of paying the wake-up of an idle vCPU
 * (docs/performance.md, "Polling before sleeping"). The window adapts per
 * loop as Linux's guest haltpoll governor adapts its own: it grows when the
 * loop blocked and was woken within the cap (polling longer would have
 * caught the event), shrinks when the loop stayed idle past the cap, so a
 * loop with sparse or no traffic stops polling. A loop polls only while
 * the crypto workers are idle. `idle_poll_us` (the cap) is the setting; 0
 * never polls. The window adapts with lurk_poll_adapt (lurk/poll_window.h),
 * which the client shares.
 */
#ifndef LURKD_NET_IDLE_POLL_H
#define LURKD_NET_IDLE_POLL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

/* The cap in µs for every loop from their next wait on (start and SIGHUP). */
void lurkd_idle_poll_set_cap(unsigned cap_us);

/*
 * lurkd_idle_poll_wait is epoll_wait(epfd, events, max, timeout_ms) for the
 * calling loop (its window is thread-local): when the workers are idle it
 * polls first, for at most the window, timeout_ms and until *stop, then
 * blocks for what is left of timeout_ms. Returns the number of events, or 0 (timeout, or an error,
 * which the loop treats like a timeout).
 */
int lurkd_idle_poll_wait(int epfd, struct epoll_event *events, int max, int timeout_ms,
                         const atomic_bool *stop);

/* The calling thread's window in ns (0: it blocks at once), for the tests. */
uint32_t lurkd_idle_poll_window_ns(void);

#endif
