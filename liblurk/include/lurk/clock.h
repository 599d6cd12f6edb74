/* The monotonic clock: milliseconds for deadlines, idle and expiry times; nanoseconds for budgets
 * and polling. */
#ifndef LURK_CLOCK_H
#define LURK_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t lurk_clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t lurk_clock_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#endif
