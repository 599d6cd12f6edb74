/*
 * I/O threads: each runs an epoll loop that accepts on every listener
 * (EPOLLEXCLUSIVE), reads and frames requests, hands them to the worker pool,
 * writes responses, and closes idle or misbehaving connections.
 */
#ifndef LURKD_IO_LOOP_H
#define LURKD_IO_LOOP_H

#include <stdbool.h>
#include <stddef.h>

#include "conn.h"
#include "listener.h"

struct lurkd_io_limits {
    size_t max_frame;
    unsigned connection_limit;
    unsigned max_connections;
    unsigned idle_timeout;
};

/* Starts n loops serving the listeners (which must outlive them). */
bool lurkd_io_start(unsigned n, struct lurkd_listener *listeners, size_t n_listeners,
                    char *err, size_t errlen);
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

/* Tells a connection's loop that it has output to flush (used by conn.c). */
void lurkd_loop_schedule_flush(struct lurkd_loop *loop, struct lurkd_conn *c);

#endif
