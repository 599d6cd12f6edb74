/*
 * Files that hold secrets (private keys, token PINs, external PSKs): lurkd
 * refuses one that its group or other users may access, as ssh refuses
 * such an identity file, since whoever can read it has what lurkd protects
 * (docs/security.md, "A hardened process").
 */
#ifndef LURKD_KEYS_SECRET_FILE_H
#define LURKD_KEYS_SECRET_FILE_H

#include <stdbool.h>
#include <stddef.h>

/*
 * lurkd_secret_file_private is true when path (a file name, or a file: URI;
 * other URIs name no file and pass) has no permission bit for its group or
 * others; otherwise why says so and how to fix it. A file that cannot be
 * examined passes: loading it reports the reason.
 */
bool lurkd_secret_file_private(const char *path, char *why, size_t whylen);

#endif
