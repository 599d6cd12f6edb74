/*
 * The I/O threads: each runs an epoll loop over every listener and its own
 * connections; accepting (net/accept.h), the transports (net/plain.c,
 * net/tls.c), framing (net/reader.h), request submission (net/request.h)
 * and deadlines (net/timer.h) are their own modules; this one turns events
 * into calls to them.
 */
#ifndef LURKD_NET_IO_LOOP_H
#define LURKD_NET_IO_LOOP_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "net/listener.h"
#include "net/loop.h"

/* Starts n loops serving the listeners (which must outlive them). */
bool lurkd_io_start(unsigned n, struct lurkd_listener *listeners, size_t n_listeners, char *err,
                    size_t errlen);
/* New limits (SIGHUP); they apply to frames and connections from now on. */
void lurkd_io_set_limits(const struct lurkd_io_limits *limits);
/* Replaces a tls listener's credentials for new connections (SIGHUP). */
void lurkd_io_set_tls(struct lurkd_listener *l, SSL_CTX *ctx);
/* Stops accepting (SIGTERM); existing connections are served on. */
void lurkd_io_stop_accepting(void);
/*
 * Has every I/O thread accept the connections already completed and read
 * what its connections had received when this was called, so that the
 * requests sent before SIGTERM reach the workers; false if the threads did
 * not get to it within timeout_ms. Call it before lurkd_io_stop_accepting.
 */
bool lurkd_io_read_received(int timeout_ms);
/* Open connections (metrics). */
unsigned lurkd_io_connections(void);
/* True when no connection has output waiting. */
bool lurkd_io_flushed(void);
/* Closes every connection and joins the threads (after lurkd_workers_stop). */
void lurkd_io_stop(void);

#endif
