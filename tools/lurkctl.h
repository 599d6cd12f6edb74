/* lurkctl subcommands living in their own files. */
#ifndef LURKCTL_H
#define LURKCTL_H

#include <stdbool.h>

#include "lurk/bytes.h"

/* lurkctl keyref ... (lurkctl_keyref.c); argv[0] is "keyref". */
int lurkctl_keyref_main(int argc, char **argv);
/* Prints a tls13 capabilities response payload (lurkctl_tls13.c). */
bool lurkctl_print_tls13_capabilities(const lurk_cbs *payload);

#endif
