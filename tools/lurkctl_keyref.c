/*
 * lurkctl keyref: writes the key reference the lurk provider reads instead
 * of a private key (docs/provider.md "Key reference", docs/architecture.md §6).
 *
 *   lurkctl keyref --cert CERT [--server ADDR] [-o OUT]
 *   lurkctl keyref --pubkey PUBKEY_PEM [--server ADDR] [-o OUT]
 *
 * CERT is a PEM (or DER) certificate, PUBKEY_PEM a "PUBLIC KEY" PEM. The key
 * id (SHA-256 of the SubjectPublicKeyInfo, first 4 bytes) is printed on
 * stderr; the PEM goes to OUT or stdout. Works offline: lurkd is not asked.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "lurk/hex.h"
#include "lurk/keyid.h"
#include "lurk/keyref.h"
#include "lurkctl.h"

static void keyref_usage(FILE *f)
{
    fprintf(f, "usage: lurkctl keyref (--cert CERT | --pubkey PUBKEY_PEM) [--server ADDR] "
               "[-o OUT]\n"
               "\n"
               "  --cert CERT      certificate (PEM or DER) whose key lurkd holds\n"
               "  --pubkey FILE    or the public key itself (PEM)\n"
               "  --server ADDR    lurkd for this key (unix:/path, tcp://host:port,\n"
               "                   tls://host:port), overriding lurk-server\n"
               "  -o, --out FILE   write there instead of stdout\n");
}

static EVP_PKEY *read_cert_key(const char *path)
{
    BIO *bio = BIO_new_file(path, "rb");
    X509 *x = NULL;
    EVP_PKEY *key = NULL;

    if (bio == NULL)
        return NULL;
    x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    if (x == NULL) {
        ERR_clear_error();
        (void)BIO_reset(bio);
        x = d2i_X509_bio(bio, NULL);
    }
    if (x != NULL)
        key = X509_get_pubkey(x);
    X509_free(x);
    BIO_free(bio);
    return key;
}

static EVP_PKEY *read_pubkey(const char *path)
{
    BIO *bio = BIO_new_file(path, "rb");
    EVP_PKEY *key = NULL;

    if (bio != NULL)
        key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return key;
}

int lurkctl_keyref_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"cert", required_argument, NULL, 'c'},   {"pubkey", required_argument, NULL, 'p'},
        {"server", required_argument, NULL, 's'}, {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    const char *cert = NULL, *pubkey = NULL, *server = NULL, *out = NULL;
    char err[256], id_hex[2 * LURK_KEY_ID_LEN + 1];
    uint8_t id[LURK_KEY_ID_LEN];
    EVP_PKEY *key;
    char *pem;
    FILE *f;
    int c, rc = 1;

    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            cert = optarg;
            break;
        case 'p':
            pubkey = optarg;
            break;
        case 's':
            server = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'h':
            keyref_usage(stdout);
            return 0;
        default:
            keyref_usage(stderr);
            return 2;
        }
    }
    if (optind != argc || (cert == NULL) == (pubkey == NULL)) {
        keyref_usage(stderr);
        return 2;
    }
    key = cert != NULL ? read_cert_key(cert) : read_pubkey(pubkey);
    if (key == NULL) {
        fprintf(stderr, "lurkctl keyref: cannot read a %s from %s\n",
                cert != NULL ? "certificate" : "PEM public key", cert != NULL ? cert : pubkey);
        ERR_print_errors_fp(stderr);
        return 1;
    }
    pem = lurk_keyref_pem_from_pkey(NULL, key, server, err, sizeof(err));
    if (pem == NULL) {
        fprintf(stderr, "lurkctl keyref: %s\n", err);
        goto done;
    }
    f = out != NULL ? fopen(out, "w") : stdout;
    if (f == NULL) {
        perror(out);
        goto done;
    }
    if (fputs(pem, f) == EOF || (out != NULL && fclose(f) != 0)) {
        perror(out != NULL ? out : "stdout");
        goto done;
    }
    if (lurk_keyid_from_pkey(NULL, key, id)) {
        lurk_hex_encode(id, sizeof(id), id_hex);
        fprintf(stderr, "key id %s (%s)%s%s\n", id_hex, EVP_PKEY_get0_type_name(key),
                server != NULL ? ", server " : "", server != NULL ? server : "");
    }
    rc = 0;
done:
    OPENSSL_free(pem);
    EVP_PKEY_free(key);
    return rc;
}
