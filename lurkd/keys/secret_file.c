/* Permissions of secret files; see secret_file.h. */
#include "keys/secret_file.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

bool lurkd_secret_file_private(const char *path, char *why, size_t whylen)
{
    struct stat st;

    /* OSSL_STORE file: URIs (file:/path or file:///path); other schemes are not files. */
    if (strncmp(path, "file:", 5) == 0) {
        path += 5;
        if (strncmp(path, "//", 2) == 0)
            path += 2;
    } else if (strchr(path, ':') != NULL && path[0] != '/' && path[0] != '.') {
        return true;
    }
    if (stat(path, &st) != 0 || (st.st_mode & 077) == 0)
        return true;
    snprintf(why, whylen,
             "%s may be %s by its group or others (mode %04o): make it private "
             "(chmod 600 %s)",
             path, (st.st_mode & 066) ? "read or written" : "used", (unsigned)(st.st_mode & 07777),
             path);
    return false;
}
