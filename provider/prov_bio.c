/*
 * A BIO over the core's OSSL_CORE_BIO upcalls, so the PEM decoder can use
 * PEM_read_bio_ex and read exactly one PEM block line by line (BIO_gets):
 * reading more would move the position libcrypto restarts from when a
 * bundle holds other objects after ours (docs/architecture.md §8.1, haproxy bundles).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/core_dispatch.h>
#include <openssl/crypto.h>

#include "provider.h"

static OSSL_FUNC_BIO_read_ex_fn *c_read_ex;
static OSSL_FUNC_BIO_gets_fn *c_gets;
static OSSL_FUNC_BIO_ctrl_fn *c_ctrl;
static OSSL_FUNC_BIO_up_ref_fn *c_up_ref;
static OSSL_FUNC_BIO_free_fn *c_free;
static OSSL_FUNC_BIO_write_ex_fn *c_write_ex; /* optional: only the encoders write */

static pthread_once_t method_once = PTHREAD_ONCE_INIT;
static BIO_METHOD *method;

bool lurk_prov_bio_init(const OSSL_DISPATCH *in)
{
    /* Called once, from OSSL_provider_init (see there). */
    for (; in->function_id != 0; in++) {
        switch (in->function_id) {
        case OSSL_FUNC_BIO_READ_EX:
            c_read_ex = OSSL_FUNC_BIO_read_ex(in);
            break;
        case OSSL_FUNC_BIO_GETS:
            c_gets = OSSL_FUNC_BIO_gets(in);
            break;
        case OSSL_FUNC_BIO_CTRL:
            c_ctrl = OSSL_FUNC_BIO_ctrl(in);
            break;
        case OSSL_FUNC_BIO_UP_REF:
            c_up_ref = OSSL_FUNC_BIO_up_ref(in);
            break;
        case OSSL_FUNC_BIO_FREE:
            c_free = OSSL_FUNC_BIO_free(in);
            break;
        case OSSL_FUNC_BIO_WRITE_EX:
            c_write_ex = OSSL_FUNC_BIO_write_ex(in);
            break;
        default:
            break;
        }
    }
    return c_read_ex != NULL && c_gets != NULL && c_ctrl != NULL && c_up_ref != NULL &&
           c_free != NULL;
}

static int core_read(BIO *bio, char *data, size_t len, size_t *got)
{
    /* The core BIO is a file or memory: no retries, a short read is EOF. */
    BIO_clear_retry_flags(bio);
    return c_read_ex(BIO_get_data(bio), data, len, got);
}

static int core_gets(BIO *bio, char *buf, int size)
{
    return c_gets(BIO_get_data(bio), buf, size);
}

static long core_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
    return c_ctrl(BIO_get_data(bio), cmd, num, ptr);
}

static int core_create(BIO *bio)
{
    BIO_set_init(bio, 1);
    return 1;
}

static int core_destroy(BIO *bio)
{
    if (BIO_get_data(bio) != NULL)
        c_free(BIO_get_data(bio));
    BIO_set_data(bio, NULL);
    BIO_set_init(bio, 0);
    return 1;
}

static void make_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "lurk core BIO");

    if (m == NULL || !BIO_meth_set_read_ex(m, core_read) || !BIO_meth_set_gets(m, core_gets) ||
        !BIO_meth_set_ctrl(m, core_ctrl) || !BIO_meth_set_create(m, core_create) ||
        !BIO_meth_set_destroy(m, core_destroy)) {
        BIO_meth_free(m);
        return;
    }
    /* Kept for the life of the process: lurk.so is never unloaded (-z nodelete). */
    method = m;
}

BIO *lurk_prov_bio_new_from_core(OSSL_CORE_BIO *cbio)
{
    BIO *bio;

    if (c_read_ex == NULL || pthread_once(&method_once, make_method) != 0 || method == NULL)
        return NULL;
    bio = BIO_new(method);
    if (bio == NULL)
        return NULL;
    if (!c_up_ref(cbio)) {
        BIO_free(bio);
        return NULL;
    }
    BIO_set_data(bio, cbio);
    return bio;
}

bool lurk_prov_bio_read_all(OSSL_CORE_BIO *cbio, size_t max, uint8_t **out, size_t *len)
{
    size_t cap = 4096, n = 0, got;
    uint8_t *buf = OPENSSL_malloc(cap);

    *out = NULL;
    *len = 0;
    if (buf == NULL || c_read_ex == NULL) {
        OPENSSL_free(buf);
        return false;
    }
    for (;;) {
        if (n == cap) {
            uint8_t *nb;
            if (cap >= max + 1) {
                OPENSSL_free(buf);
                return false; /* larger than anything we decode */
            }
            cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            nb = OPENSSL_realloc(buf, cap);
            if (nb == NULL) {
                OPENSSL_free(buf);
                return false;
            }
            buf = nb;
        }
        got = 0;
        if (!c_read_ex(cbio, buf + n, cap - n, &got) || got == 0)
            break;
        n += got;
    }
    if (n > max) {
        OPENSSL_free(buf);
        return false;
    }
    *out = buf;
    *len = n;
    return true;
}

bool lurk_prov_bio_write(OSSL_CORE_BIO *cbio, const void *data, size_t len)
{
    size_t written = 0;

    while (len > 0) {
        if (c_write_ex == NULL || !c_write_ex(cbio, data, len, &written) || written == 0)
            return false;
        data = (const uint8_t *)data + written;
        len -= written;
    }
    return true;
}
