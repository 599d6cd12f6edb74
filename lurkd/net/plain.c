/*
 * The plain transport: unix: and tcp:// sockets, read and written directly.
 * Workers may write responses on them themselves (net/conn.h).
 */
#include <errno.h>
#include <sys/socket.h>

#include "net/conn.h"

static ssize_t plain_recv(struct lurkd_conn *c, uint8_t *buf, size_t len)
{
    for (;;) {
        ssize_t n = recv(c->fd, buf, len, 0);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        return errno == EAGAIN || errno == EWOULDBLOCK ? LURKD_IO_AGAIN : LURKD_IO_ERROR;
    }
}

static ssize_t plain_send(struct lurkd_conn *c, const uint8_t *buf, size_t len)
{
    for (;;) {
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0)
            return n;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return LURKD_IO_AGAIN;
        return LURKD_IO_ERROR;
    }
}

static int plain_handshake(struct lurkd_conn *c)
{
    (void)c;
    return 1;
}

static bool plain_pending(const struct lurkd_conn *c)
{
    (void)c;
    return false;
}

static void plain_free(struct lurkd_conn *c)
{
    (void)c;
}

const struct lurkd_transport lurkd_transport_plain = {
    .name = "plain",
    .recv = plain_recv,
    .send = plain_send,
    .handshake = plain_handshake,
    .pending = plain_pending,
    .free = plain_free,
    .worker_may_send = true,
};
