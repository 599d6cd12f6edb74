/*
 * The end of every Check test program's main(): one runner for the suite,
 * Check's normal report, and the exit status meson reads.
 */
#ifndef LURK_TEST_CHECK_RUN_H
#define LURK_TEST_CHECK_RUN_H

#include <check.h>

/*
 * Runs every test of s (which the runner then owns and frees) with
 * fork_status (CK_FORK_GETENV: Check's default, from the CK_FORK variable);
 * EXIT_SUCCESS when none failed, EXIT_FAILURE otherwise.
 */
int lurk_test_run(Suite *s, enum fork_status fork_status);

#endif
