/* A fake lurkd on a unix socket for the provider's unit tests; see fake_lurkd.h. */
#include "fake_lurkd.h"

#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "lurk/header.h"
#include "prov_test_util.h"

#define MAX_REQUEST (1 << 20)

static fake_lurkd_answer_fn answer_fn;
static atomic_bool stopping;
static _Atomic int live_conns; /* connection threads still running */
static char dir[64], sock_path[96], conf_path[256];
static int listener = -1;
static pthread_t server_thread;

/* Reads len bytes; false at end of stream, on error or once stopping. */
static bool read_exact(int fd, uint8_t *buf, size_t len)
{
    while (len > 0) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;
        int r = poll(&p, 1, 100);
        if (atomic_load(&stopping))
            return false;
        if (r == 0)
            continue;
        if (r < 0 || (n = read(fd, buf, len)) <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

static bool write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n <= 0)
            return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* One request read whole and answered; false when the connection is done. */
static bool serve_one(int conn)
{
    uint8_t head[LURK_HEADER_LEN], *req;
    struct lurk_message m;
    struct lurk_header hdr;
    lurk_cbs cbs;
    lurk_cbb cbb;
    bool ok = false;

    if (!read_exact(conn, head, sizeof(head)))
        return false;
    lurk_cbs_init(&cbs, head, sizeof(head));
    if (!lurk_header_parse(&cbs, &hdr) || hdr.length < LURK_HEADER_LEN ||
        hdr.length > MAX_REQUEST || (req = malloc(hdr.length)) == NULL)
        return false;
    memcpy(req, head, sizeof(head));
    if (read_exact(conn, req + sizeof(head), hdr.length - sizeof(head)) &&
        lurk_message_parse(req, hdr.length, &m) && lurk_cbb_init(&cbb, 1024, 65536)) {
        ok = answer_fn(&m, &cbb) && write_all(conn, lurk_cbb_data(&cbb), lurk_cbb_len(&cbb));
        lurk_cbb_cleanup(&cbb);
    }
    free(req);
    return ok;
}

/* One connection of the provider's pool, answered until it closes. */
static void *serve_conn(void *arg)
{
    int conn = (int)(intptr_t)arg;

    while (serve_one(conn))
        ;
    close(conn);
    atomic_fetch_sub(&live_conns, 1);
    return NULL;
}

/* Accepts the provider's connections (it may keep several), a thread each. */
static void *serve(void *arg)
{
    (void)arg;
    while (!atomic_load(&stopping)) {
        struct pollfd p = {.fd = listener, .events = POLLIN};
        pthread_t t;
        int conn;
        if (poll(&p, 1, 100) != 1 || (conn = accept(listener, NULL, NULL)) < 0)
            continue;
        atomic_fetch_add(&live_conns, 1);
        if (pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)conn) != 0) {
            close(conn);
            atomic_fetch_sub(&live_conns, 1);
            continue;
        }
        pthread_detach(t);
    }
    return NULL;
}

OSSL_LIB_CTX *fake_lurkd_start(const char *prefix, fake_lurkd_answer_fn answer)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char settings[256], errs[1024];
    OSSL_LIB_CTX *cctx;

    answer_fn = answer;
    atomic_store(&stopping, false);
    snprintf(dir, sizeof(dir), "/tmp/%s-XXXXXX", prefix);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(sock_path, sizeof(sock_path), "%s/fake.sock", dir);
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
    listener = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(listener, 0);
    ck_assert_int_eq(bind(listener, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(listener, 8), 0);
    ck_assert_int_eq(pthread_create(&server_thread, NULL, serve, NULL), 0);
    snprintf(settings, sizeof(settings), "lurk-server = unix:%s\nlurk-timeout-ms = 5000\n",
             sock_path);
    cctx = test_libctx_with_config(settings, conf_path, sizeof(conf_path));
    test_errors_text(errs, sizeof(errs));
    ck_assert_msg(cctx != NULL, "config: %s", errs);
    return cctx;
}

void fake_lurkd_stop(OSSL_LIB_CTX *cctx)
{
    OSSL_LIB_CTX_free(cctx);
    atomic_store(&stopping, true);
    pthread_join(server_thread, NULL);
    while (atomic_load(&live_conns) > 0) /* each notices within 100 ms */
        usleep(10000);
    close(listener);
    unlink(sock_path);
    rmdir(dir);
    unlink(conf_path);
}
