/*
 * lurk.so against several real lurkd on loopback (issue 12; docs/provider.md
 * §4 "Balancing and health"): three lurkd share the operations; one killed
 * with SIGKILL under load costs no failed operation, is logged down once
 * by lurk-log, shows its failures and failovers in the counters file, and
 * gets traffic again once restarted; a server that accepts connections and
 * never answers costs one timeout, once; with every server down operations
 * fail cleanly and recover without reloading the key; link credentials
 * rotated on disk are taken for new connections, a bad new pair is
 * rejected and the old one kept. A process that cannot start threads
 * (haproxy's workers: RLIMIT_NPROC 0) still finds a restarted server back
 * and writes its counters file; forked workers probe a down server at
 * different times; weights share the operations.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "check_run.h"
#include "prov_lurkd.h"
#include "prov_test_util.h"

#define EX_SIGN_CV "tls13/sign_certificate_verify"
#define N_LURKD    3
#define THREADS    4

static const struct prov_kind p256 = {"p256", "SHA256", false};
static struct prov_lurkd lurkd[N_LURKD];
static char dir[600], conf[700], log_path[700], stats_prefix[700];

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void start(void)
{
    static const char *const keys[] = {"p256", NULL};

    for (int i = 0; i < N_LURKD; i++)
        prov_lurkd_start(&lurkd[i], keys, NULL);
    /* Our files go in the first lurkd's private directory, removed with it. */
    snprintf(dir, sizeof(dir), "%s", lurkd[0].proc.dir);
    snprintf(log_path, sizeof(log_path), "%s/lurk-provider.log", dir);
    snprintf(stats_prefix, sizeof(stats_prefix), "%s/lurk-stats", dir);
    snprintf(conf, sizeof(conf), "%s/fleet.cnf", dir);
}

static void stop(void)
{
    for (int i = 0; i < N_LURKD; i++)
        prov_lurkd_stop(&lurkd[i]);
}

/* The provider's openssl.cnf: servers, the test PKI's client1 identity, extra lines. */
static void write_conf(const char *servers, const char *cert, const char *key, const char *extra)
{
    char *settings = NULL;

    ck_assert(asprintf(&settings,
                       "lurk-server = %s\n"
                       "lurk-ca = %s\n"
                       "lurk-cert = %s\n"
                       "lurk-key = %s\n"
                       "lurk-timeout-ms = 1000\n"
                       "lurk-probe-min-ms = 100\n"
                       "lurk-probe-max-ms = 1000\n"
                       "lurk-log = %s\n"
                       "lurk-stats = %s\n"
                       "lurk-stats-ms = 200\n"
                       "%s",
                       servers, lurk_test_pki("ca.crt"), cert ? cert : lurk_test_pki("client1.crt"),
                       key ? key : lurk_test_pki("client1.key"), log_path, stats_prefix,
                       extra ? extra : "") > 0);
    ck_assert(test_write_config(conf, settings));
    free(settings);
}

static int audited(int i)
{
    return prov_count(lurkd[i].proc.audit, prov_audit_needle("p256", EX_SIGN_CV, "success"));
}

struct worker {
    pthread_t thread;
    const struct prov_signer *s;
    int n;
    atomic_int done;
    int failed;
    atomic_bool *stop; /* NULL: exactly n operations */
    char why[1024];
};

static void *work(void *arg)
{
    struct worker *w = arg;

    for (int i = 0; i < w->n && (w->stop == NULL || !atomic_load(w->stop)); i++) {
        char why[1024];
        if (prov_sign_one(w->s, why, sizeof(why))) {
            w->done++;
        } else {
            if (w->failed++ == 0)
                snprintf(w->why, sizeof(w->why), "%s", why);
        }
    }
    return NULL;
}

static void run_workers(struct worker *w, const struct prov_signer *s, int per_thread,
                        atomic_bool *stop)
{
    for (int t = 0; t < THREADS; t++) {
        memset(&w[t], 0, sizeof(w[t]));
        w[t].s = s;
        w[t].n = per_thread;
        w[t].stop = stop;
        ck_assert_int_eq(pthread_create(&w[t].thread, NULL, work, &w[t]), 0);
    }
}

static int join_workers(struct worker *w, char *why, size_t why_len)
{
    int failed = 0;

    why[0] = '\0';
    for (int t = 0; t < THREADS; t++) {
        ck_assert_int_eq(pthread_join(w[t].thread, NULL), 0);
        if (w[t].failed > 0 && why[0] == '\0')
            snprintf(why, why_len, "%s", w[t].why);
        failed += w[t].failed;
    }
    return failed;
}

/* SIGKILL, as a crashed host. */
static void kill9(struct prov_lurkd *l)
{
    ck_assert_int_gt(l->proc.pid, 0);
    kill(l->proc.pid, SIGKILL);
    waitpid(l->proc.pid, NULL, 0);
    l->proc.pid = 0;
}

/* Starts a killed lurkd again on the address it had (its log is set aside first). */
static void restart(struct prov_lurkd *l)
{
    char *text = lurk_test_read_file(l->proc.conf, NULL), *fixed, old[700];

    ck_assert_ptr_nonnull(text);
    fixed = lurk_test_replace_all(text, "tls://127.0.0.1:0", l->tls_addr);
    ck_assert_ptr_nonnull(fixed);
    ck_assert(lurk_test_write_file(&l->proc, "lurkd.conf", fixed));
    snprintf(old, sizeof(old), "%s.old", l->proc.log);
    ck_assert_int_eq(rename(l->proc.log, old), 0);
    ck_assert_msg(lurk_test_lurkd_start(&l->proc, NULL), "lurkd did not start again");
    free(text);
    free(fixed);
}

/* "server ADDR down" lines in lurk-log. */
static int log_lines(const char *addr, const char *state)
{
    char needle[300];

    snprintf(needle, sizeof(needle), "server %s %s", addr, state);
    return prov_count(log_path, needle);
}

/* A counter of addr in the counters file of process pid; -1 when absent. */
static long counter_of(pid_t pid, const char *addr, const char *name)
{
    char path[800], key[300], *text, *line, *at;
    long v = -1;

    snprintf(path, sizeof(path), "%s.%ld", stats_prefix, (long)pid);
    text = lurk_test_read_file(path, NULL);
    if (text == NULL)
        return -1;
    snprintf(key, sizeof(key), "server=\"%s\"", addr);
    line = strstr(text, key);
    if (line != NULL) {
        char *end = strchr(line, '\n'), pat[64];
        if (end != NULL)
            *end = '\0';
        snprintf(pat, sizeof(pat), " %s=", name);
        at = strstr(line, pat);
        if (at != NULL)
            v = strtol(at + strlen(pat), NULL, 10);
    }
    free(text);
    return v;
}

/* A counter of addr in this process's counters file; -1 when absent. */
static long counter(const char *addr, const char *name)
{
    return counter_of(getpid(), addr, name);
}

/* Waits (bounded) until the counters file shows at least min for addr's counter. */
static long wait_counter(const char *addr, const char *name, long min)
{
    long v = -1;

    for (int i = 0; i < 50 && (v = counter(addr, name)) < min; i++)
        sleep_ms(100);
    return v;
}

static const char *servers3(void)
{
    static char list[600];

    snprintf(list, sizeof(list), "%s, %s, %s", lurkd[0].tls_addr, lurkd[1].tls_addr,
             lurkd[2].tls_addr);
    return list;
}

/* ---- balancing ---- */

/*
 * THREADS workers sign per_thread times each; got[i] is what lurkd i
 * answered (from its audit log, which it writes as it answers).
 */
static void run_counted(struct prov_signer *s, int per_thread, int got[N_LURKD])
{
    int before[N_LURKD], total = 0;
    struct worker w[THREADS];
    char why[1024];

    for (int i = 0; i < N_LURKD; i++)
        before[i] = audited(i);
    run_workers(w, s, per_thread, NULL);
    ck_assert_msg(join_workers(w, why, sizeof(why)) == 0, "%s", why);
    for (int tries = 0; tries < 100 && total < THREADS * per_thread; tries++) {
        if (tries > 0)
            sleep_ms(100);
        total = 0;
        for (int i = 0; i < N_LURKD; i++)
            total += got[i] = audited(i) - before[i];
    }
    ck_assert_int_eq(total, THREADS * per_thread);
}

START_TEST(three_servers_share_the_load)
{
    int got[N_LURKD], sum[N_LURKD] = {0}, total = THREADS * 75;
    struct prov_signer s;
    char rounds[512] = "", victim[800], planted[800], *kept;
    bool shared = false;

    write_conf(servers3(), NULL, NULL, NULL);
    /* A symlink planted where the counters file's temporary goes is replaced, not followed. */
    snprintf(victim, sizeof(victim), "%s/victim", dir);
    snprintf(planted, sizeof(planted), "%s.%ld.tmp", stats_prefix, (long)getpid());
    FILE *vf = fopen(victim, "w");
    ck_assert(vf != NULL && fputs("precious\n", vf) >= 0 && fclose(vf) == 0);
    ck_assert_int_eq(symlink(victim, planted), 0);
    prov_signer_open(&s, &p256, conf, false);
    /* A warm-up first, so that each server has its connections before the count. */
    run_counted(&s, 10, got);
    /*
     * The choice favours the server with fewer requests in flight: one lurkd
     * descheduled for a while on this shared 2-CPU machine rightly gets less.
     * Equal servers must share within 20-47 % in one of three rounds.
     */
    for (int round = 0; round < 3 && !shared; round++) {
        size_t used = strlen(rounds);
        run_counted(&s, 75, got);
        shared = true;
        for (int i = 0; i < N_LURKD; i++) {
            sum[i] += got[i];
            shared &= got[i] * 100 >= 20 * total && got[i] * 100 <= 47 * total;
        }
        snprintf(rounds + used, sizeof(rounds) - used, " (%d, %d, %d)", got[0], got[1], got[2]);
    }
    ck_assert_msg(shared, "no round of %d operations was shared within 20-47 %%:%s", total, rounds);
    /* The counters file agrees: every server up, with requests. */
    for (int i = 0; i < N_LURKD; i++)
        ck_assert_int_ge(wait_counter(lurkd[i].tls_addr, "requests", sum[i]), sum[i]);
    kept = lurk_test_read_file(victim, NULL);
    ck_assert_msg(kept != NULL && strcmp(kept, "precious\n") == 0,
                  "the counters file was written through a planted symlink: %s",
                  kept ? kept : "(gone)");
    free(kept);
    prov_signer_close(&s);
}
END_TEST

/* A backup server gets nothing while the others are up. */
START_TEST(backup_only_when_the_others_are_down)
{
    char list[600], why[1024];
    int b0 = audited(2);
    struct prov_signer s;

    snprintf(list, sizeof(list), "%s weight=3, %s, %s backup", lurkd[0].tls_addr, lurkd[1].tls_addr,
             lurkd[2].tls_addr);
    write_conf(list, NULL, NULL, NULL);
    prov_signer_open(&s, &p256, conf, false);
    for (int i = 0; i < 40; i++)
        ck_assert_msg(prov_sign_one(&s, why, sizeof(why)), "%s", why);
    ck_assert_int_eq(audited(2), b0);
    kill9(&lurkd[0]);
    kill9(&lurkd[1]);
    for (int i = 0; i < 10; i++)
        ck_assert_msg(prov_sign_one(&s, why, sizeof(why)), "with both primaries down: %s", why);
    ck_assert(prov_wait_count(lurkd[2].proc.audit, prov_audit_needle("p256", EX_SIGN_CV, "success"),
                              b0 + 10, 10000));
    prov_signer_close(&s);
}
END_TEST

/* ---- health ---- */

START_TEST(killed_server_costs_no_operation)
{
    struct worker w[THREADS];
    struct prov_signer s;
    char why[1024];
    const char *victim = lurkd[1].tls_addr;
    atomic_bool stop = false;
    int back0, done0 = 0, done = 0;

    write_conf(servers3(), NULL, NULL, NULL);
    prov_signer_open(&s, &p256, conf, false);
    /* A load that runs until stopped (at most 20000 operations per thread). */
    run_workers(w, &s, 20000, &stop);
    /* Kill it under load, once the load has reached every server... */
    ck_assert(prov_wait_count(lurkd[1].proc.audit, prov_audit_needle("p256", EX_SIGN_CV, "success"),
                              20, 20000));
    kill9(&lurkd[1]);
    /* ... and keep the load on for 200 more operations (at most 20 s). */
    for (int t = 0; t < THREADS; t++)
        done0 += atomic_load(&w[t].done);
    for (int i = 0; i < 200 && done < done0 + 200; i++) {
        sleep_ms(100);
        done = 0;
        for (int t = 0; t < THREADS; t++)
            done += atomic_load(&w[t].done);
    }
    atomic_store(&stop, true);
    ck_assert_msg(join_workers(w, why, sizeof(why)) == 0, "operations failed: %s", why);
    ck_assert_int_ge(done, done0 + 200);

    /* Logged down once by this process, with the cause; its failures and failovers counted. */
    ck_assert_int_eq(log_lines(victim, "down"), 1);
    ck_assert_int_ge(wait_counter(victim, "failures", 1), 1);
    ck_assert_int_ge(wait_counter(victim, "failovers", 1), 1);

    /* Back on the same address: traffic again within 10 s, logged up once. */
    restart(&lurkd[1]);
    back0 = audited(1);
    for (int i = 0; i < 100 && audited(1) == back0; i++) {
        ck_assert_msg(prov_sign_one(&s, why, sizeof(why)), "%s", why);
        sleep_ms(100);
    }
    ck_assert_msg(audited(1) > back0, "the restarted lurkd got no traffic within 10 s");
    ck_assert(prov_wait_count(log_path, "up:", 1, 5000));
    ck_assert_int_eq(log_lines(victim, "up"), 1);
    ck_assert_int_eq(log_lines(victim, "down"), 1);
    prov_signer_close(&s);
}
END_TEST

/* Each process logs the state change once: nginx's workers each say it. */
START_TEST(each_process_logs_the_change_once)
{
    struct prov_signer s;
    char why[1024];
    pid_t pids[2];
    const char *victim = lurkd[2].tls_addr;

    write_conf(servers3(), NULL, NULL, NULL);
    prov_signer_open(&s, &p256, conf, false);
    ck_assert_msg(prov_sign_one(&s, why, sizeof(why)), "%s", why);
    kill9(&lurkd[2]);
    for (int c = 0; c < 2; c++) {
        pids[c] = fork();
        ck_assert_int_ge(pids[c], 0);
        if (pids[c] == 0) {
            bool ok = true;
            for (int i = 0; i < 60 && ok; i++)
                ok = prov_sign_one(&s, why, sizeof(why));
            _exit(ok ? 0 : 1);
        }
    }
    for (int i = 0; i < 60; i++)
        ck_assert_msg(prov_sign_one(&s, why, sizeof(why)), "%s", why);
    for (int c = 0; c < 2; c++) {
        int st;
        ck_assert_int_eq(waitpid(pids[c], &st, 0), pids[c]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d failed", c);
    }
    ck_assert_int_eq(log_lines(victim, "down"), 3);
    prov_signer_close(&s);
}
END_TEST

/* A loopback port that accepts connections (the kernel's backlog) and never answers. */
static int stalled_listener(char *addr, size_t len)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    ck_assert_int_eq(listen(fd, 128), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
    snprintf(addr, len, "tls://127.0.0.1:%u", ntohs(sin.sin_port));
    return fd;
}

START_TEST(stalled_server_costs_one_timeout)
{
    char stalled[64], list[600], why[1024];
    int fd = stalled_listener(stalled, sizeof(stalled));
    struct prov_signer s;

    snprintf(list, sizeof(list), "%s, %s, %s", lurkd[0].tls_addr, stalled, lurkd[1].tls_addr);
    write_conf(list, NULL, NULL, NULL);
    prov_signer_open(&s, &p256, conf, false);
    for (int i = 0; i < 60; i++)
        ck_assert_msg(prov_sign_one(&s, why, sizeof(why)), "operation %d: %s", i, why);
    /* Chosen once, timed out once, then left to the probes (which keep failing). */
    ck_assert_int_le(wait_counter(stalled, "requests", 1), 1);
    ck_assert_int_le(counter(stalled, "failures"), 1);
    ck_assert_int_le(log_lines(stalled, "down"), 1);
    ck_assert(prov_count(log_path, "timed out") <= 1);
    prov_signer_close(&s);
    close(fd);
}
END_TEST

START_TEST(all_down_then_recovery)
{
    char list[600], why[1024];
    struct prov_signer s;
    bool ok = false;

    snprintf(list, sizeof(list), "%s, %s", lurkd[0].tls_addr, lurkd[1].tls_addr);
    write_conf(list, NULL, NULL, NULL);
    prov_signer_open(&s, &p256, conf, false);
    ck_assert_msg(prov_sign_one(&s, why, sizeof(why)), "%s", why);
    kill9(&lurkd[0]);
    kill9(&lurkd[1]);
    for (int i = 0; i < 3; i++) {
        ck_assert(!prov_sign_one(&s, why, sizeof(why)));
        ck_assert_msg(strstr(why, "cannot reach lurkd") != NULL, "%s", why);
        ck_assert_msg(strstr(why, lurkd[0].tls_addr) != NULL && strstr(why, lurkd[1].tls_addr),
                      "both servers are not named: %s", why);
        ck_assert_msg(strstr(why, "key id") != NULL, "%s", why);
    }
    restart(&lurkd[0]);
    /* The same key object, no reload: back within the probe back-off. */
    for (int i = 0; i < 100 && !ok; i++) {
        ok = prov_sign_one(&s, why, sizeof(why));
        if (!ok)
            sleep_ms(100);
    }
    ck_assert_msg(ok, "no recovery within 10 s: %s", why);
    prov_signer_close(&s);
}
END_TEST

/* ---- link credentials ---- */

static void put(const char *name, const char *pki_file)
{
    char *text = lurk_test_read_file(lurk_test_pki(pki_file), NULL), tmp[800], path[800];
    FILE *f;

    ck_assert_ptr_nonnull(text);
    snprintf(tmp, sizeof(tmp), "%s/%s.new", dir, name);
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(tmp, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
    /* As an operator's tooling does: a new file renamed into place. */
    ck_assert_int_eq(rename(tmp, path), 0);
    free(text);
}

START_TEST(link_credentials_rotate_without_restart)
{
    char cert[800], key[800], why[1024];
    struct prov_signer s;
    bool refused = false;

    snprintf(cert, sizeof(cert), "%s/link.crt", dir);
    snprintf(key, sizeof(key), "%s/link.key", dir);
    put("link.crt", "client1.crt");
    put("link.key", "client1.key");
    write_conf(lurkd[0].tls_addr, cert, key, NULL);
    prov_signer_open(&s, &p256, conf, false);
    ck_assert_msg(prov_sign_one(&s, why, sizeof(why)), "%s", why);

    /* A bad new pair (certificate and key of different clients): logged, the old one kept. */
    put("link.crt", "client2.crt");
    ck_assert_msg(prov_wait_count(log_path, "new link credentials rejected", 1, 10000),
                  "the bad pair was not noticed");
    kill9(&lurkd[0]);
    restart(&lurkd[0]); /* new connections from now on */
    ck_assert_msg(prov_sign_one(&s, why, sizeof(why)), "the old credentials were not kept: %s",
                  why);

    /* A good new pair, another identity (client2, not allowed to use the key). */
    put("link.key", "client2.key");
    ck_assert_msg(prov_wait_count(log_path, "link credentials reloaded", 1, 10000),
                  "the new pair was not taken");
    kill9(&lurkd[0]);
    restart(&lurkd[0]);
    for (int i = 0; i < 50 && !refused; i++) {
        refused = !prov_sign_one(&s, why, sizeof(why)) && strstr(why, "cannot reach") == NULL;
        if (!refused)
            sleep_ms(100);
    }
    ck_assert_msg(refused, "lurkd still sees client1: %s", why);

    /* Back to client1: works again, same key object, no restart. */
    put("link.crt", "client1.crt");
    put("link.key", "client1.key");
    ck_assert(prov_wait_count(log_path, "link credentials reloaded", 2, 10000));
    kill9(&lurkd[0]);
    restart(&lurkd[0]);
    ck_assert_msg(prov_sign_one(&s, why, sizeof(why)) || prov_sign_one(&s, why, sizeof(why)), "%s",
                  why);
    prov_signer_close(&s);
}
END_TEST

/* ---- without a health thread (haproxy's workers, issue 12 follow-up) ---- */

static void *nothing(void *arg)
{
    return arg;
}

/*
 * What haproxy does to a worker under `user`: RLIMIT_NPROC 0, then the
 * unprivileged user (the limit does not bind root). Then signs every 50 ms
 * until a byte arrives on stop_fd (at most 30 s); exits 2 when a thread can
 * still be started (the test would prove nothing), 1 when an operation failed.
 */
static void threadless_worker(const struct prov_signer *s, const struct passwd *pw, int stop_fd)
{
    struct rlimit none = {0, 0};
    pthread_t t;
    char why[1024], byte;
    int failed = 0;

    if (setrlimit(RLIMIT_NPROC, &none) != 0)
        _exit(3);
    if (getuid() == 0 &&
        (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0))
        _exit(3);
    if (pthread_create(&t, NULL, nothing, NULL) == 0)
        _exit(2);
    for (int i = 0; i < 600 && read(stop_fd, &byte, 1) != 1; i++) {
        if (!prov_sign_one(s, why, sizeof(why))) {
            failed++;
            fprintf(stderr, "threadless worker: %s\n", why);
        }
        sleep_ms(50);
    }
    _exit(failed > 0 ? 1 : 0);
}

START_TEST(threadless_process_finds_a_server_back)
{
    char list[600], sdir[] = "/tmp/lurk-fleet-stats-XXXXXX", path[800];
    const char *victim = lurkd[1].tls_addr;
    struct passwd *pw = getpwnam("nobody");
    struct prov_signer s;
    int stop[2], back0, st;
    pid_t child;
    long probes = -1;

    ck_assert_ptr_nonnull(pw);
    /* The worker writes its counters file as nobody: a directory of its own. */
    ck_assert_ptr_nonnull(mkdtemp(sdir));
    ck_assert_int_eq(chmod(sdir, 0755), 0);
    if (getuid() == 0)
        ck_assert_int_eq(chown(sdir, pw->pw_uid, pw->pw_gid), 0);
    snprintf(stats_prefix, sizeof(stats_prefix), "%s/lurk-stats", sdir);
    snprintf(list, sizeof(list), "%s, %s", lurkd[0].tls_addr, victim);
    write_conf(list, NULL, NULL, NULL);
    prov_signer_open(&s, &p256, conf, false);
    kill9(&lurkd[1]);

    ck_assert_int_eq(pipe2(stop, O_CLOEXEC), 0);
    ck_assert_int_eq(fcntl(stop[0], F_SETFL, O_NONBLOCK), 0);
    child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        close(stop[1]);
        threadless_worker(&s, pw, stop[0]);
    }
    close(stop[0]);

    ck_assert_msg(prov_wait_count(log_path, "health thread not started", 1, 10000),
                  "the worker did not say its health thread could not start");
    snprintf(path, sizeof(path), "server %s down", victim);
    ck_assert_msg(prov_wait_count(log_path, path, 1, 10000),
                  "the killed server was not marked down");
    restart(&lurkd[1]);
    back0 = audited(1);
    for (int i = 0; i < 100 && audited(1) == back0; i++)
        sleep_ms(100);
    ck_assert_msg(audited(1) > back0, "the restarted lurkd got no traffic within 10 s");
    snprintf(path, sizeof(path), "server %s up", victim);
    ck_assert(prov_wait_count(log_path, path, 1, 5000));
    /* The counters file, rewritten by the worker's requests: probes counted, back up. */
    for (int i = 0; i < 50; i++) {
        char *text;
        snprintf(path, sizeof(path), "%s.%ld", stats_prefix, (long)child);
        text = lurk_test_read_file(path, NULL);
        probes = counter_of(child, victim, "probes");
        if (text != NULL && probes >= 1 && strstr(text, "state=down") == NULL) {
            free(text);
            break;
        }
        free(text);
        sleep_ms(100);
    }
    ck_assert_msg(probes >= 1, "no counters file with probes from the worker (%ld)", probes);
    ck_assert_msg(write(stop[1], "x", 1) == 1, "cannot stop the worker");
    close(stop[1]);
    ck_assert_int_eq(waitpid(child, &st, 0), child);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) != 2, "the worker could still start threads");
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the worker failed (status %d)", st);
    ck_assert_int_eq(prov_count(log_path, "health thread not started"), 1);
    ck_assert_int_eq(log_lines(victim, "up"), 1);
    prov_signer_close(&s);
    snprintf(path, sizeof(path), "rm -rf '%s'", sdir);
    ck_assert_int_eq(system(path), 0);
}
END_TEST

/* ---- probe jitter: forked workers do not probe a down server at once ---- */

#define HERD 6

struct counting_listener {
    int fd;
    pthread_t thread;
    atomic_bool stop;
    atomic_int n;
    int64_t at_ms[256];
};

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Accepts each connection, notes when, closes it: every probe fails there. */
static void *count_accepts(void *arg)
{
    struct counting_listener *l = arg;

    while (!atomic_load(&l->stop)) {
        struct pollfd p = {.fd = l->fd, .events = POLLIN};
        int c;
        if (poll(&p, 1, 50) <= 0)
            continue;
        c = accept(l->fd, NULL, NULL);
        if (c < 0)
            continue;
        if (atomic_load(&l->n) < 256)
            l->at_ms[atomic_fetch_add(&l->n, 1)] = mono_ms();
        close(c);
    }
    return NULL;
}

START_TEST(forked_workers_probe_apart)
{
    static struct counting_listener l;
    char addr[64], list[600], why[1024];
    struct prov_signer s;
    pid_t pids[HERD];
    int64_t forked;
    int first = -1, n, most = 0;

    memset(&l, 0, sizeof(l));
    l.fd = stalled_listener(addr, sizeof(addr));
    ck_assert_int_eq(pthread_create(&l.thread, NULL, count_accepts, &l), 0);
    snprintf(list, sizeof(list), "%s, %s", lurkd[0].tls_addr, addr);
    write_conf(list, NULL, NULL, "lurk-probe-min-ms = 400\nlurk-probe-max-ms = 3200\n");
    prov_signer_open(&s, &p256, conf, false);
    /* The master process finds the server down before it forks its workers. */
    for (int i = 0; i < 60 && log_lines(addr, "down") == 0; i++)
        ck_assert_msg(prov_sign_one(&s, why, sizeof(why)), "%s", why);
    ck_assert_int_eq(log_lines(addr, "down"), 1);
    forked = mono_ms();
    for (int c = 0; c < HERD; c++) {
        pids[c] = fork();
        ck_assert_int_ge(pids[c], 0);
        if (pids[c] == 0) {
            /* One operation starts the worker's health thread; it probes meanwhile. */
            bool ok = prov_sign_one(&s, why, sizeof(why));
            sleep_ms(1500);
            _exit(ok ? 0 : 1);
        }
    }
    for (int c = 0; c < HERD; c++) {
        int st;
        ck_assert_int_eq(waitpid(pids[c], &st, 0), pids[c]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "worker %d failed", c);
    }
    atomic_store(&l.stop, true);
    ck_assert_int_eq(pthread_join(l.thread, NULL), 0);
    close(l.fd);
    n = atomic_load(&l.n);
    for (int i = 0; i < n && first < 0; i++)
        if (l.at_ms[i] >= forked)
            first = i;
    ck_assert_msg(first >= 0 && n - first >= HERD, "%d probes after the fork, want %d or more",
                  first < 0 ? 0 : n - first, HERD);
    /* The most probes within any 10 ms: fewer than the workers (in step, all of them). */
    for (int i = first; i < n; i++) {
        int k = 0;
        for (int j = first; j < n; j++)
            k += l.at_ms[j] >= l.at_ms[i] && l.at_ms[j] < l.at_ms[i] + 10;
        most = k > most ? k : most;
    }
    ck_assert_msg(most < HERD, "%d of %d probes within 10 ms: the workers probe in step", most,
                  n - first);
    prov_signer_close(&s);
}
END_TEST

/* ---- weights ---- */

START_TEST(weights_share_the_load)
{
    char list[600], why[1024];
    int before[2], got[2] = {0, 0}, total = 0;
    struct prov_signer s;

    snprintf(list, sizeof(list), "%s weight=3, %s", lurkd[0].tls_addr, lurkd[1].tls_addr);
    write_conf(list, NULL, NULL, NULL);
    for (int i = 0; i < 2; i++)
        before[i] = audited(i);
    prov_signer_open(&s, &p256, conf, false);
    for (int i = 0; i < 400; i++)
        ck_assert_msg(prov_sign_one(&s, why, sizeof(why)), "operation %d: %s", i, why);
    for (int tries = 0; tries < 100 && total < 400; tries++) {
        if (tries > 0)
            sleep_ms(100);
        total = 0;
        for (int i = 0; i < 2; i++)
            total += got[i] = audited(i) - before[i];
    }
    ck_assert_int_eq(total, 400);
    /* 3:1 is 75 %; the band is about 4.5 standard deviations of 400 draws either way. */
    ck_assert_msg(got[0] >= 260 && got[0] <= 340, "weight 3 got %d and weight 1 got %d of 400",
                  got[0], got[1]);
    prov_signer_close(&s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("prov_fleet");
    TCase *tc = tcase_create("fleet");

    /* Fresh daemons for every test (a test kills some). */
    tcase_add_checked_fixture(tc, start, stop);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, three_servers_share_the_load);
    tcase_add_test(tc, backup_only_when_the_others_are_down);
    tcase_add_test(tc, killed_server_costs_no_operation);
    tcase_add_test(tc, each_process_logs_the_change_once);
    tcase_add_test(tc, stalled_server_costs_one_timeout);
    tcase_add_test(tc, all_down_then_recovery);
    tcase_add_test(tc, link_credentials_rotate_without_restart);
    tcase_add_test(tc, threadless_process_finds_a_server_back);
    tcase_add_test(tc, forked_workers_probe_apart);
    tcase_add_test(tc, weights_share_the_load);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
