/*
 * From a whole request message read on a connection to its answer: the
 * per-connection and global queue limits (temporary_failure when full), and
 * the choice between a crypto worker and the I/O thread itself (a quick
 * request while the I/O thread's time budget for its epoll batch lasts).
 */
#ifndef LURKD_NET_REQUEST_H
#define LURKD_NET_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/conn.h"

/* lurkd_request_submit hands one message of c to be answered. */
void lurkd_request_submit(struct lurkd_conn *c, const uint8_t *frame, size_t len);

#endif
