/* The monotonic clock in milliseconds: deadlines, idle and expiry times. */
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

#endif
