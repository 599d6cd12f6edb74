/*
 * Accepting connections (nginx keeps this in ngx_event_accept.c): the
 * connection limits (max_connections, max_connections_per_peer) and what
 * happens when the process runs out of descriptors: the loop stops watching
 * its listeners until a descriptor frees or a short back-off passes, and
 * says so once a second, instead of being woken for the same backlog at
 * once, forever (docs/security.md, "Attacks tried").
 */
#ifndef LURKD_NET_ACCEPT_H
#define LURKD_NET_ACCEPT_H

#include <stdbool.h>
#include <stdint.h>

#include "net/loop.h"

/* How long a loop stops accepting after EMFILE/ENFILE when no descriptor frees. */
#define LURKD_ACCEPT_BACKOFF_MS 100

/*
 * lurkd_accept takes the connections waiting on l into loop, within the
 * limits. It stops when loop has more connections than another loop
 * (lurkd_accept_balance) unless all: then it takes every one, listening or
 * not (lurkd_io_read_received, before a drain).
 */
void lurkd_accept(struct lurkd_loop *loop, struct lurkd_listener *l, bool all);
/* lurkd_accept_listen puts every listener into loop's epoll set (at start, and to resume). */
bool lurkd_accept_listen(struct lurkd_loop *loop);
/* lurkd_accept_unlisten takes them out (descriptors exhausted, or SIGTERM). */
void lurkd_accept_unlisten(struct lurkd_loop *loop);
/*
 * lurkd_accept_balance (each loop, after its epoll batch): a loop with more
 * connections than another stops listening and wakes the one with the
 * fewest, which listens again; so accepted connections spread over the
 * loops although EPOLLEXCLUSIVE wakes the same waiter first, for unix
 * sockets too (SO_REUSEPORT does not apply to them).
 */
void lurkd_accept_balance(struct lurkd_loop *loop);
/*
 * lurkd_accept_authenticated counts a tls:// connection whose handshake is
 * done against its client identity instead of its address; false when that
 * identity already holds max_connections_per_peer (close it).
 */
bool lurkd_accept_authenticated(struct lurkd_conn *c);

#endif
