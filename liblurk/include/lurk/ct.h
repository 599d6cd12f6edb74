/*
 * Constant-time helpers for code that handles secrets whose value must not
 * show in timing (the PKCS#1 check of RSA key transport, RFC 5246
 * §7.4.7.1). A mask is all ones (true) or all zeros (false); no function
 * branches on its arguments or indexes memory with them.
 */
#ifndef LURK_CT_H
#define LURK_CT_H

#include <stdint.h>

/*
 * lurk_ct_barrier hides a value from the optimiser, so that the compiler
 * cannot turn mask arithmetic back into a branch.
 */
static inline uint32_t lurk_ct_barrier(uint32_t a)
{
#if defined(__GNUC__) || defined(__clang__)
    __asm__("" : "+r"(a));
#endif
    return a;
}

/* lurk_ct_msb_mask is all ones when the top bit of a is set, else zero. */
static inline uint32_t lurk_ct_msb_mask(uint32_t a)
{
    return 0u - (lurk_ct_barrier(a) >> 31);
}

/* lurk_ct_is_zero is all ones when a is zero. */
static inline uint32_t lurk_ct_is_zero(uint32_t a)
{
    return lurk_ct_msb_mask(~a & (a - 1));
}

/* lurk_ct_eq is all ones when a equals b. */
static inline uint32_t lurk_ct_eq(uint32_t a, uint32_t b)
{
    return lurk_ct_is_zero(a ^ b);
}

/* lurk_ct_select_u8 returns a where mask is all ones, b where it is zero. */
static inline uint8_t lurk_ct_select_u8(uint32_t mask, uint8_t a, uint8_t b)
{
    return (uint8_t)((lurk_ct_barrier(mask) & a) | (~mask & b));
}

#endif
