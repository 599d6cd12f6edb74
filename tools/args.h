/*
 * Numeric command-line arguments for the tools: the whole argument must be
 * a number within [min, max] (atoi would take "5x", "-1" or "" silently).
 */
#ifndef LURK_TOOLS_ARGS_H
#define LURK_TOOLS_ARGS_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

static inline bool tool_arg_long(const char *tool, const char *option, const char *s, long min,
                                 long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 0);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        fprintf(stderr, "%s: %s wants a number from %ld to %ld, not \"%s\"\n", tool, option, min,
                max, s);
        return false;
    }
    *out = v;
    return true;
}

static inline bool tool_arg_int(const char *tool, const char *option, const char *s, int min,
                                int max, int *out)
{
    long v;

    if (!tool_arg_long(tool, option, s, min, max, &v))
        return false;
    *out = (int)v;
    return true;
}

#endif
