/*
 * libFuzzer target: lurkd's configuration reader (lurkd/conf/config.c,
 * config_tls13.c and config_metrics.c over OpenSSL's NCONF) on arbitrary
 * files, seeded with the example configuration (tests/fuzz/seeds.py).
 * Every input either loads or fails with a message; nothing may crash,
 * leak or read out of bounds.
 * Inputs that .include other files or name a [keys] directory are skipped:
 * they would read the machine's files (or /dev/zero for ever), not the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conf/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64], err[1024];
    struct lurkd_config *cfg;
    int fd;

    if (memmem(data, size, "include", 7) != NULL || memmem(data, size, "directory", 9) != NULL)
        return 0;
    fd = memfd_create("lurkd.conf", MFD_CLOEXEC);
    if (fd < 0)
        abort();
    if (write(fd, data, size) != (ssize_t)size)
        abort();
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    err[0] = '\0';
    cfg = lurkd_config_load(path, err, sizeof(err));
    if (cfg != NULL) {
        if (!lurkd_config_finish(cfg, err, sizeof(err)) && err[0] == '\0')
            abort(); /* a refusal always says why */
        lurkd_config_free(cfg);
    } else if (err[0] == '\0') {
        abort();
    }
    close(fd);
    return 0;
}
