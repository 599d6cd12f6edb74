/* lurkctl subcommands living in their own files. */
#ifndef LURKCTL_H
#define LURKCTL_H

#include <stdbool.h>

#include "lurk/bytes.h"

/* lurkctl keyref ... (lurkctl_keyref.c); argv[0] is "keyref". */
int lurkctl_keyref_main(int argc, char **argv);
/* Prints a tls13 capabilities response payload (lurkctl_tls13.c). */
bool lurkctl_print_tls13_capabilities(const lurk_cbs *payload);
/*
 * lurkctl tls13 server|client TRACE.json... (lurkctl_tls13.c): replays
 * recorded TLS 1.3 handshakes through the tls13 exchanges of one role.
 * argv[0] is the role. usage: whether the arguments make sense (checked
 * before connecting); main: exit status 0 when every secret is as expected.
 */
struct lurk_conn;
bool lurkctl_tls13_usage(int argc, char **argv);
int lurkctl_tls13_main(struct lurk_conn *conn, int timeout_ms, int argc, char **argv);

#endif
