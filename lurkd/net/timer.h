/*
 * Deadlines of one I/O loop's connections: a binary min-heap, so the loop
 * finds the next deadline in O(1) and moves or cancels one in O(log n)
 * (nginx keeps its timers apart from its event handlers the same way).
 * A timer lives inside the object it times; the heap holds pointers.
 */
#ifndef LURKD_NET_TIMER_H
#define LURKD_NET_TIMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lurkd_timer {
    int64_t deadline_ms; /* CLOCK_MONOTONIC (lurk/clock.h) */
    size_t index;        /* position in its heap; LURKD_TIMER_IDLE when not armed */
};

#define LURKD_TIMER_IDLE ((size_t)-1)

struct lurkd_timer_heap {
    struct lurkd_timer **items;
    size_t n, cap;
};

/* lurkd_timer_init marks t as not armed. */
void lurkd_timer_init(struct lurkd_timer *t);
/* lurkd_timer_armed is true when t is in a heap. */
bool lurkd_timer_armed(const struct lurkd_timer *t);
/*
 * lurkd_timer_set arms t at deadline_ms, or moves it there if it is armed;
 * false (t unchanged) when the heap cannot grow.
 */
bool lurkd_timer_set(struct lurkd_timer_heap *h, struct lurkd_timer *t, int64_t deadline_ms);
/* lurkd_timer_cancel takes t out of the heap; nothing happens if it is not armed. */
void lurkd_timer_cancel(struct lurkd_timer_heap *h, struct lurkd_timer *t);
/* lurkd_timer_first is the timer with the earliest deadline, or NULL. */
struct lurkd_timer *lurkd_timer_first(const struct lurkd_timer_heap *h);
/* lurkd_timer_heap_free frees the heap's array (not the timers). */
void lurkd_timer_heap_free(struct lurkd_timer_heap *h);

#endif
