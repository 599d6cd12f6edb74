/* lurkd processes for tests; see proc.h. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef LURKD_PATH
#error "LURKD_PATH must name the lurkd binary under test"
#endif
#ifndef LURK_TEST_PKI
#error "LURK_TEST_PKI must name the generated test PKI directory"
#endif

const char *lurk_test_pki(const char *file)
{
    static __thread char path[4][512];
    static __thread int slot;

    slot = (slot + 1) % 4;
    snprintf(path[slot], sizeof(path[slot]), "%s/%s", LURK_TEST_PKI, file);
    return path[slot];
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

bool lurk_test_lurkd_init(struct lurkd_proc *p)
{
    memset(p, 0, sizeof(*p));
    /* unix socket paths are limited to 107 bytes: stay under /tmp. */
    snprintf(p->dir, sizeof(p->dir), "/tmp/lurk-test-XXXXXX");
    if (mkdtemp(p->dir) == NULL)
        return false;
    snprintf(p->conf, sizeof(p->conf), "%s/lurkd.conf", p->dir);
    snprintf(p->log, sizeof(p->log), "%s/lurkd.log", p->dir);
    snprintf(p->audit, sizeof(p->audit), "%s/audit.log", p->dir);
    snprintf(p->unix_addr, sizeof(p->unix_addr), "unix:%s/lurkd.sock", p->dir);
    return true;
}

bool lurk_test_write_file(const struct lurkd_proc *p, const char *name, const char *text)
{
    char path[600];
    FILE *f;
    int fd;

    /* Owner only: the files written here include private keys, and lurkd refuses shared ones. */
    snprintf(path, sizeof(path), "%s/%s", p->dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || (f = fdopen(fd, "w")) == NULL) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    fputs(text, f);
    return fclose(f) == 0;
}

char *lurk_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;

    if (f == NULL)
        return NULL;
    for (;;) {
        if (cap - n < 4096) {
            cap = cap ? cap * 2 : 8192;
            char *g = realloc(buf, cap);
            if (g == NULL)
                break;
            buf = g;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    if (buf != NULL)
        buf[n] = '\0';
    if (len != NULL)
        *len = n;
    return buf;
}

bool lurk_test_wait_for(const char *path, const char *needle, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        char *text = lurk_test_read_file(path, NULL);
        bool found = text != NULL && strstr(text, needle) != NULL;
        free(text);
        if (found)
            return true;
        sleep_ms(20);
    }
    return false;
}

pid_t lurk_test_lurkd_spawn(const struct lurkd_proc *p, const char *const *args, int out_fd)
{
    const char *argv[64];
    size_t n = 0;
    pid_t pid;

    argv[n++] = LURKD_PATH;
    for (size_t i = 0; args != NULL && args[i] != NULL && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid = fork();
    if (pid == 0) {
        if (chdir(p->dir) != 0)
            _exit(127);
        dup2(out_fd, STDOUT_FILENO);
        dup2(out_fd, STDERR_FILENO);
        execv(LURKD_PATH, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

bool lurk_test_lurkd_start(struct lurkd_proc *p, const char *const *extra_args)
{
    const char *args[48] = {"-f", "-c", p->conf};
    size_t n = 3;
    int fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

    for (size_t i = 0; extra_args != NULL && extra_args[i] != NULL && n < 47; i++)
        args[n++] = extra_args[i];
    args[n] = NULL;
    if (fd < 0)
        return false;
    p->pid = lurk_test_lurkd_spawn(p, args, fd);
    close(fd);
    for (int waited = 0; waited < 10000; waited += 20) {
        int status;
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            char *log = lurk_test_read_file(p->log, NULL);
            fprintf(stderr, "lurkd exited during startup:\n%s\n", log ? log : "");
            free(log);
            p->pid = 0;
            return false;
        }
        char *log = lurk_test_read_file(p->log, NULL);
        bool up = log != NULL && strstr(log, "] lurkd ") != NULL && strstr(log, " started:");
        free(log);
        if (up)
            return true;
        sleep_ms(20);
    }
    return false;
}

int lurk_test_lurkd_run(const struct lurkd_proc *p, const char *const *args, char *out,
                        size_t outlen)
{
    char path[600];
    int fd, status = -1;
    pid_t pid;

    snprintf(path, sizeof(path), "%s/run.out", p->dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    pid = lurk_test_lurkd_spawn(p, args, fd);
    close(fd);
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    if (out != NULL) {
        char *text = lurk_test_read_file(path, NULL);
        snprintf(out, outlen, "%s", text ? text : "");
        free(text);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool lurk_test_lurkd_address(const struct lurkd_proc *p, const char *scheme, char *out,
                             size_t outlen)
{
    char *log = lurk_test_read_file(p->log, NULL), needle[64];
    char *at;
    bool ok = false;

    snprintf(needle, sizeof(needle), "listening on %s", scheme);
    if (log != NULL && (at = strstr(log, needle)) != NULL) {
        at += strlen("listening on ");
        size_t n = strcspn(at, " \n");
        if (n < outlen) {
            memcpy(out, at, n);
            out[n] = '\0';
            ok = true;
        }
    }
    free(log);
    return ok;
}

int lurk_test_lurkd_signal(struct lurkd_proc *p, int sig)
{
    int status;

    if (p->pid <= 0 || kill(p->pid, sig) != 0)
        return -1;
    if (sig != SIGTERM && sig != SIGKILL && sig != SIGINT)
        return 0;
    for (int waited = 0; waited < 15000; waited += 10) {
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
            p->pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        sleep_ms(10);
    }
    return -1;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void lurk_test_lurkd_cleanup(struct lurkd_proc *p)
{
    if (p->pid > 0 && lurk_test_lurkd_signal(p, SIGTERM) < 0)
        lurk_test_lurkd_signal(p, SIGKILL);
    if (p->dir[0] != '\0' && getenv("LURK_TEST_KEEP") == NULL)
        nftw(p->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *lurk_test_replace_all(const char *text, const char *from, const char *to)
{
    size_t n = 0, fl = strlen(from), tl = strlen(to);
    const char *at, *hit;
    char *out, *w;

    for (at = text; (hit = strstr(at, from)) != NULL; at = hit + fl)
        n++;
    if ((out = malloc(strlen(text) + n * tl + 1)) == NULL)
        abort();
    w = out;
    for (at = text; (hit = strstr(at, from)) != NULL; at = hit + fl) {
        memcpy(w, at, (size_t)(hit - at));
        w += hit - at;
        memcpy(w, to, tl);
        w += tl;
    }
    strcpy(w, at);
    return out;
}
