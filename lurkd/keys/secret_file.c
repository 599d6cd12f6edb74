/* Permissions of secret files; see secret_file.h. */
#include "keys/secret_file.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/*
 * The file OSSL_STORE's file loader opens for a file: URI (RFC 8089: the
 * scheme in any case; no authority, an empty one or "localhost"; an
 * absolute path, or the loader refuses it), or NULL when it names none.
 */
static const char *file_uri_path(const char *uri)
{
    const char *rest = uri + strlen("file:");

    if (strncmp(rest, "//", 2) == 0) {
        if (rest[2] == '/')
            rest += 2;
        else if (strncasecmp(rest + 2, "localhost/", 10) == 0)
            rest += 2 + strlen("localhost");
        else
            return NULL;
    }
    return rest[0] == '/' ? rest : NULL;
}

bool lurkd_secret_file_private(const char *path, char *why, size_t whylen)
{
    const char *file = path;
    struct stat st;

    /*
     * Whatever the spelling, the file that will be opened is checked, in
     * the loader's order: the name itself when it is a file (colons and
     * all: OSSL_STORE opens a name whose scheme no loader knows as a
     * file), else a file: URI's path. Other URIs (pkcs11:, a provider's)
     * name no file and pass.
     */
    if (stat(file, &st) != 0) {
        if (strncasecmp(path, "file:", 5) != 0 || (file = file_uri_path(path)) == NULL ||
            stat(file, &st) != 0)
            return true;
    }
    if ((st.st_mode & 077) == 0)
        return true;
    snprintf(why, whylen,
             "%s may be %s by its group or others (mode %04o): make it private "
             "(chmod 600 %s)",
             file, (st.st_mode & 066) ? "read or written" : "used", (unsigned)(st.st_mode & 07777),
             file);
    return false;
}
