/*
 * lurkd: command line, startup, signals (SIGHUP reload, SIGTERM/SIGINT
 * drain and exit, SIGUSR1 reopen logs), like nginx and haproxy.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "ops/audit.h"
#include "conf/config.h"
#include "net/io_loop.h"
#include "net/idle_poll.h"
#include "net/listener.h"
#include "ops/privileges.h"
#include "ops/log.h"
#include "ops/metrics.h"
#include "ops/metrics_http.h"
#include "ops/notify.h"
#include "conf/config_metrics.h"
#include "conf/runtime.h"
#include "net/worker.h"
#include "lurk/clock.h"

#define DEFAULT_CONFIG "/etc/lurkd/lurkd.conf"
#define LURKD_VERSION  "0.1.0"
/*
 * Exit status of a configuration that cannot work (sysexits.h EX_CONFIG):
 * the config file, a file it names or a key. Restarting does not help, so
 * the systemd unit lists it in RestartPreventExitStatus= (docs/deploy.md §3).
 * 1 is any other failed start (a port in use, ...), 2 a bad command line.
 */
#define LURKD_EXIT_CONFIG 78

struct options {
    const char *config; /* NULL: default file if it exists */
    bool config_given;
    const char **listen;
    size_t n_listen;
    const char **keys;
    size_t n_keys;
    bool foreground;
    bool check;
    const char *log_level;
    const char *user; /* --user USER[:GROUP] */
    bool run_as_root;
};

static struct lurkd_listener *listeners;
static size_t n_listeners;
static int metrics_fd = -1; /* [metrics] socket, bound before privileges drop */

static void usage(FILE *f)
{
    fprintf(
        f, "usage: lurkd [-c FILE] [--listen ADDR]... [--key PATH_OR_URI]... [--foreground]\n"
           "             [--log-level LEVEL] [--user USER[:GROUP] | --run-as-root] [--check]\n"
           "\n"
           "  -c, --config FILE     configuration file (default " DEFAULT_CONFIG ")\n"
           "      --listen ADDR     also listen on unix:/path, tcp://host:port or tls://host:port\n"
           "      --key SOURCE      also serve this key (file or OSSL_STORE URI), every client\n"
           "  -f, --foreground      stay in the foreground, log to stderr\n"
           "      --log-level LEVEL error, warn, notice, info or debug\n"
           "  -u, --user USER[:GROUP] started as root, become USER once listening with keys\n"
           "      --run-as-root     started as root, stay root (refused otherwise)\n"
           "  -t, --check           check the configuration and keys, print key ids, exit\n"
           "  -V, --version         print the version\n"
           "\n"
           "Signals: HUP reloads configuration and keys, TERM/INT finish in-flight work and\n"
           "exit, USR1 reopens the log files.\n");
}

static bool parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"key", required_argument, NULL, 'k'},
        {"foreground", no_argument, NULL, 'f'},
        {"log-level", required_argument, NULL, 'L'},
        {"check", no_argument, NULL, 't'},
        {"user", required_argument, NULL, 'u'},
        {"run-as-root", no_argument, NULL, 'R'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    memset(o, 0, sizeof(*o));
    o->listen = calloc((size_t)argc, sizeof(*o->listen));
    o->keys = calloc((size_t)argc, sizeof(*o->keys));
    if (o->listen == NULL || o->keys == NULL)
        return false;
    while ((ch = getopt_long(argc, argv, "c:ftu:Vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            o->config = optarg;
            o->config_given = true;
            break;
        case 'l':
            o->listen[o->n_listen++] = optarg;
            break;
        case 'k':
            o->keys[o->n_keys++] = optarg;
            break;
        case 'f':
            o->foreground = true;
            break;
        case 'L':
            o->log_level = optarg;
            break;
        case 't':
            o->check = true;
            break;
        case 'u':
            o->user = optarg;
            break;
        case 'R':
            o->run_as_root = true;
            break;
        case 'V':
            printf("lurkd %s (%s)\n", LURKD_VERSION, OpenSSL_version(OPENSSL_VERSION));
            exit(0);
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return false;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "lurkd: unexpected argument \"%s\"\n", argv[optind]);
        return false;
    }
    if (!o->config_given && (o->n_listen == 0 && o->n_keys == 0))
        o->config = DEFAULT_CONFIG;
    return true;
}

/* The config file (if any) plus the command-line additions, checked as a whole. */
static struct lurkd_config *load_config(const struct options *o, char *err, size_t errlen)
{
    struct lurkd_config *cfg =
        o->config ? lurkd_config_load(o->config, err, errlen) : lurkd_config_new();

    if (cfg == NULL)
        return NULL;
    for (size_t i = 0; i < o->n_listen; i++)
        if (!lurkd_config_add_listener(cfg, o->listen[i], err, errlen))
            goto fail;
    for (size_t i = 0; i < o->n_keys; i++)
        if (!lurkd_config_add_key(cfg, o->keys[i], err, errlen))
            goto fail;
    if (o->user != NULL && !lurkd_config_set_user(cfg, o->user, err, errlen))
        goto fail;
    if (o->run_as_root)
        cfg->run_as_root = true;
    if (o->log_level != NULL && !lurkd_log_level_parse(o->log_level, &cfg->log_level)) {
        snprintf(err, errlen, "--log-level must be error, warn, notice, info or debug");
        goto fail;
    }
    if (!lurkd_config_finish(cfg, err, errlen))
        goto fail;
    return cfg;
fail:
    lurkd_config_free(cfg);
    return NULL;
}

static void describe_keys(const struct lurkd_runtime *rt, FILE *f)
{
    for (size_t i = 0; i < rt->keys->n_keys; i++) {
        const struct lurkd_key *k = &rt->keys->keys[i];
        char ex[256] = "";
        for (uint32_t bit = 1; bit <= LURKD_EX_TLS13; bit <<= 1) {
            if (k->exchanges & bit) {
                strcat(ex, ex[0] ? "," : "");
                strcat(ex, lurkd_exchange_name((enum lurkd_exchange)bit));
            }
        }
        fprintf(f, "key %s: id %s, %s-%d, exchanges %s, %s\n", k->conf->name, k->id_hex,
                lurkd_key_kind_name(k), k->bits, ex, k->conf->source);
    }
}

/* At start and at each reload: what the operator should know about each key. */
static void warn_keys(const struct lurkd_runtime *rt)
{
    for (size_t i = 0; i < rt->keys->n_keys; i++) {
        const struct lurkd_key *k = &rt->keys->keys[i];
        if ((k->kind == LURKD_KEY_RSA || k->kind == LURKD_KEY_RSA_PSS) && k->bits < 2048)
            lurkd_warn("key %s is RSA-%d: weaker than 2048 bits", k->conf->name, k->bits);
        if (k->exchanges & LURKD_EX_RSA_KEY_TRANSPORT)
            lurkd_warn("key %s enables RSA key transport: every client allowed to use it can "
                       "decrypt any recorded TLS 1.2 RSA-key-exchange session made with this key "
                       "(docs/security.md)",
                       k->conf->name);
    }
}

static bool check_listeners_tls(const struct lurkd_config *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        if (cfg->listeners[i].addr.kind != LURK_ADDRESS_TLS)
            continue;
        SSL_CTX *ctx = lurkd_listener_tls_ctx(&cfg->listeners[i], err, errlen);
        if (ctx == NULL)
            return false;
        SSL_CTX_free(ctx);
    }
    return true;
}

static void apply_settings(const struct lurkd_config *cfg)
{
    struct lurkd_io_limits lim = {
        .max_frame = cfg->max_frame,
        .connection_limit = cfg->connection_limit,
        .max_connections = cfg->max_connections,
        .max_connections_per_peer = cfg->max_connections_per_peer,
        .idle_timeout = cfg->idle_timeout,
        .request_timeout = cfg->request_timeout,
    };

    lurkd_log_set_level(cfg->log_level);
    lurkd_audit_set_repeat_interval(cfg->audit_repeat_interval);
    lurkd_io_set_limits(&lim);
    lurkd_idle_poll_set_cap(cfg->idle_poll_us);
    lurkd_workers_set_limit(cfg->queue_limit, cfg->peer_queue_limit);
}

static bool open_logs(const struct lurkd_config *cfg, bool foreground, char *err, size_t errlen)
{
    const char *error_log = cfg->error_log ? cfg->error_log : foreground ? "stderr" : NULL;

    if (error_log != NULL && !lurkd_log_open(error_log)) {
        snprintf(err, errlen, "cannot open error_log %s: %s", error_log, strerror(errno));
        return false;
    }
    if (!lurkd_audit_open(cfg->audit_log)) {
        snprintf(err, errlen, "cannot open audit_log %s: %s", cfg->audit_log, strerror(errno));
        return false;
    }
    return true;
}

static bool same_listeners(const struct lurkd_config *a, const struct lurkd_config *b)
{
    if (a->n_listeners != b->n_listeners)
        return false;
    for (size_t i = 0; i < a->n_listeners; i++)
        if (strcmp(a->listeners[i].addr.text, b->listeners[i].addr.text) != 0)
            return false;
    return true;
}

static bool same_metrics(const struct lurkd_config *a, const struct lurkd_config *b)
{
    const struct lurkd_metrics_conf *x = a->metrics, *y = b->metrics;

    if (x == NULL || y == NULL)
        return x == y;
    return strcmp(x->addr.text, y->addr.text) == 0 && x->max_connections == y->max_connections &&
           x->timeout == y->timeout;
}

/* SIGHUP: everything or nothing; a bad new config keeps the old one serving. */
static bool reload(const struct options *o, bool foreground)
{
    bool ok = false;
    char err[1024];
    struct lurkd_runtime *old = lurkd_runtime_acquire();
    struct lurkd_config *cfg = load_config(o, err, sizeof(err));
    struct lurkd_runtime *rt = cfg ? lurkd_runtime_build(cfg, err, sizeof(err)) : NULL;
    SSL_CTX **ctxs = calloc(n_listeners + 1, sizeof(*ctxs));

    if (rt != NULL && ctxs != NULL && same_listeners(old->cfg, rt->cfg)) {
        for (size_t i = 0; i < n_listeners; i++) {
            if (listeners[i].addr.kind != LURK_ADDRESS_TLS)
                continue;
            ctxs[i] = lurkd_listener_tls_ctx(&rt->cfg->listeners[i], err, sizeof(err));
            if (ctxs[i] == NULL) {
                lurkd_runtime_unref(rt);
                rt = NULL;
                break;
            }
        }
    }
    if (rt == NULL) {
        lurkd_metrics_reload(false);
        lurkd_error("reload failed, still serving the previous configuration: %s", err);
        for (size_t i = 0; ctxs != NULL && i < n_listeners; i++)
            SSL_CTX_free(ctxs[i]);
        goto out;
    }
    if (!same_listeners(old->cfg, rt->cfg))
        lurkd_warn("reload: listener changes take effect at restart");
    if (!same_metrics(old->cfg, rt->cfg))
        lurkd_warn("reload: [metrics] changes take effect at restart");
    if (rt->cfg->workers != old->cfg->workers || rt->cfg->io_threads != old->cfg->io_threads)
        lurkd_warn("reload: workers and io_threads take effect at restart");
    if ((rt->cfg->user == NULL) != (old->cfg->user == NULL) ||
        (rt->cfg->user != NULL && strcmp(rt->cfg->user, old->cfg->user) != 0))
        lurkd_warn("reload: user and group take effect at restart");
    for (size_t i = 0; i < n_listeners; i++)
        if (ctxs[i] != NULL)
            lurkd_io_set_tls(&listeners[i], ctxs[i]);
    if (!open_logs(rt->cfg, foreground, err, sizeof(err)))
        lurkd_error("reload: %s", err);
    apply_settings(rt->cfg);
    warn_keys(rt);
    lurkd_metrics_reload(true);
    ok = true;
    lurkd_notice("configuration reloaded: %zu keys, lurk_state %02x%02x%02x%02x", rt->keys->n_keys,
                 rt->state[0], rt->state[1], rt->state[2], rt->state[3]);
    lurkd_runtime_install(rt);
out:
    free(ctxs);
    lurkd_runtime_unref(old);
    return ok;
}

static bool write_pid_file(const char *path)
{
    FILE *f;

    if (path == NULL)
        return true;
    f = fopen(path, "w");
    if (f == NULL)
        return false;
    fprintf(f, "%d\n", (int)getpid());
    return fclose(f) == 0;
}

static bool daemonize(char *err, size_t errlen)
{
    pid_t pid = fork();

    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return false;
    }
    if (pid > 0)
        _exit(0);
    setsid();
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        if (null > STDERR_FILENO)
            close(null);
    }
    return true;
}

/* SIGTERM: no new connections, finish what was asked, then exit. */
static void drain(unsigned timeout_s)
{
    int64_t deadline = lurk_clock_ms() + (int64_t)timeout_s * 1000;

    /* Requests already sent may sit in socket buffers and listen backlogs: take them first. */
    if (!lurkd_io_read_received((int)(timeout_s * 1000)))
        lurkd_warn("drain: I/O threads did not read their connections in time");
    lurkd_io_stop_accepting();
    for (size_t i = 0; i < n_listeners; i++) {
        /*
         * The TLS context goes under the I/O threads' lock first: one of them
         * may still be setting up a connection it accepted (accept_all).
         */
        lurkd_io_set_tls(&listeners[i], NULL);
        lurkd_listener_close(&listeners[i]);
    }
    while (lurk_clock_ms() < deadline && !(lurkd_workers_idle() && lurkd_io_flushed())) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (!(lurkd_workers_idle() && lurkd_io_flushed()))
        lurkd_warn("drain_timeout reached with work in flight");
}

/*
 * A start that failed: undo what was done (listeners closed, so no unix
 * socket file is left behind) and exit status 1.
 */
static int start_failed(struct lurkd_runtime *rt, struct options *o)
{
    for (size_t i = 0; i < n_listeners; i++)
        lurkd_listener_close(&listeners[i]);
    if (metrics_fd >= 0)
        close(metrics_fd);
    metrics_fd = -1;
    free(listeners);
    listeners = NULL;
    n_listeners = 0;
    lurkd_runtime_unref(rt);
    free(o->listen);
    free(o->keys);
    return 1;
}

/*
 * Binds the listeners, opens the logs, goes to the background, writes the
 * pid file and drops root: everything that can fail before a thread starts.
 * Errors go to stderr until the process is in the background, then to the
 * error log.
 */
static bool prepare_process(const struct lurkd_runtime *rt, const struct options *o)
{
    const struct lurkd_config *cfg = rt->cfg;
    char err[1024] = "out of memory";
    bool ok = lurkd_privileges_allowed(cfg, err, sizeof(err)) &&
              (listeners = calloc(cfg->n_listeners, sizeof(*listeners))) != NULL;

    for (size_t i = 0; ok && i < cfg->n_listeners; i++)
        if ((ok = lurkd_listener_open(&cfg->listeners[i], &listeners[i], err, sizeof(err))))
            n_listeners = i + 1;
    if (ok && cfg->metrics != NULL)
        ok = (metrics_fd = lurkd_metrics_http_bind(cfg->metrics, err, sizeof(err))) >= 0;
    ok = ok && open_logs(cfg, o->foreground, err, sizeof(err)) &&
         (o->foreground || daemonize(err, sizeof(err)));
    if (!ok) {
        fprintf(stderr, "lurkd: %s\n", err);
        return false;
    }
    if (!write_pid_file(cfg->pid_file))
        lurkd_warn("cannot write pid_file %s: %s", cfg->pid_file, strerror(errno));
    /* Listeners bound, keys loaded, logs open: root is no longer needed. */
    if (!lurkd_privileges_drop(cfg, err, sizeof(err))) {
        lurkd_error("%s", err);
        if (cfg->pid_file != NULL)
            unlink(cfg->pid_file);
        return false;
    }
    return true;
}

/* Signals go to the main thread only, through a signalfd (returned; -1 on error). */
static int signals_to_fd(void)
{
    sigset_t sigs;

    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGHUP);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    return signalfd(-1, &sigs, SFD_CLOEXEC);
}

/* SIGTERM or SIGINT: finish what is in flight, stop every thread, exit. */
static int shut_down(int signo)
{
    struct lurkd_runtime *cur = lurkd_runtime_acquire();
    const char *pid_file = cur->cfg->pid_file;

    lurkd_notify_stopping();
    lurkd_notice("%s: finishing in-flight requests, then exiting",
                 signo == SIGTERM ? "SIGTERM" : "SIGINT");
    /* /readyz says 503 from here on: drain stops accepting first. */
    drain(cur->cfg->drain_timeout);
    lurkd_metrics_http_stop();
    /*
     * Workers first: a worker hands its response to a connection's I/O loop,
     * which must still exist (work left after drain_timeout finishes here;
     * its connections are closed next).
     */
    lurkd_workers_stop();
    lurkd_io_stop();
    lurkd_audit_close();
    if (pid_file != NULL)
        unlink(pid_file);
    lurkd_runtime_unref(cur);
    lurkd_runtime_install(NULL);
    lurkd_notice("exiting");
    free(listeners);
    return 0;
}

/* The [metrics] endpoint, once the I/O threads run; it owns metrics_fd from here. */
static bool start_metrics(const struct lurkd_metrics_conf *mc, char *err, size_t errlen)
{
    bool ok;

    if (metrics_fd < 0)
        return true;
    ok = lurkd_metrics_http_start(metrics_fd, mc, err, errlen);
    if (!ok) {
        lurkd_io_stop();
        close(metrics_fd);
    }
    metrics_fd = -1;
    return ok;
}

/* READY=1 with what `systemctl status` shows (and whether the last reload failed). */
static void notify_ready(bool reload_failed)
{
    struct lurkd_runtime *cur = lurkd_runtime_acquire();
    char status[128];

    snprintf(status, sizeof(status), "serving %zu keys on %zu listeners%s", cur->keys->n_keys,
             n_listeners, reload_failed ? "; the last reload failed, see the error log" : "");
    lurkd_runtime_unref(cur);
    lurkd_notify_ready(status);
}

/* The main thread's life once everything runs: signals, and the audit and log flushes. */
static int serve(const struct options *o, int sfd)
{
    char err[1024];

    for (;;) {
        struct signalfd_siginfo si;
        struct pollfd pfd = {.fd = sfd, .events = POLLIN};
        /* Wake up regularly to write buffered audit lines. */
        int n = poll(&pfd, 1, 100);
        lurkd_audit_flush();
        lurkd_log_limited_flush();
        if (n <= 0 || read(sfd, &si, sizeof(si)) != sizeof(si))
            continue;
        if (si.ssi_signo == SIGHUP) {
            lurkd_notice("SIGHUP: reloading configuration and keys");
            lurkd_notify_reloading();
            notify_ready(!reload(o, o->foreground));
        } else if (si.ssi_signo == SIGUSR1) {
            struct lurkd_runtime *cur = lurkd_runtime_acquire();
            if (!open_logs(cur->cfg, o->foreground, err, sizeof(err)))
                lurkd_error("reopening logs: %s", err);
            else
                lurkd_notice("SIGUSR1: log files reopened");
            lurkd_runtime_unref(cur);
        } else {
            return shut_down((int)si.ssi_signo);
        }
    }
}

int main(int argc, char **argv)
{
    struct options o;
    char err[1024];
    struct lurkd_config *cfg;
    struct lurkd_runtime *rt;
    int sfd, rc;

    if (!parse_options(argc, argv, &o))
        return 2;
    /* Before any key is read: nothing of this process ends up in a core file or a debugger. */
    if (!lurkd_privileges_harden(err, sizeof(err))) {
        fprintf(stderr, "lurkd: %s\n", err);
        return 1;
    }
    cfg = load_config(&o, err, sizeof(err));
    rt = cfg ? lurkd_runtime_build(cfg, err, sizeof(err)) : NULL;
    if (rt == NULL || !check_listeners_tls(rt->cfg, err, sizeof(err))) {
        fprintf(stderr, "lurkd: %s\n", err);
        if (o.check)
            fprintf(stderr, "lurkd: configuration check failed\n");
        start_failed(rt, &o);
        return LURKD_EXIT_CONFIG;
    }
    if (o.check) {
        describe_keys(rt, stdout);
        printf("lurkd: configuration %s is ok\n", rt->cfg->path ? rt->cfg->path : "(command line)");
        lurkd_runtime_unref(rt);
        free(o.listen);
        free(o.keys);
        return 0;
    }
    if (!prepare_process(rt, &o))
        return start_failed(rt, &o);

    sfd = signals_to_fd();
    lurkd_metrics_started(LURKD_VERSION);
    lurkd_runtime_install(rt);
    apply_settings(rt->cfg);
    warn_keys(rt);
    if (sfd < 0 ||
        !lurkd_workers_start(rt->cfg->workers, rt->cfg->queue_limit, rt->cfg->peer_queue_limit, err,
                             sizeof(err)) ||
        !lurkd_io_start(rt->cfg->io_threads, listeners, n_listeners, err, sizeof(err)) ||
        !start_metrics(rt->cfg->metrics, err, sizeof(err))) {
        lurkd_error("cannot start: %s", sfd < 0 ? strerror(errno) : err);
        lurkd_workers_stop(); /* whichever threads started; none is busy yet */
        if (rt->cfg->pid_file != NULL)
            unlink(rt->cfg->pid_file);
        lurkd_runtime_install(NULL);
        return start_failed(NULL, &o);
    }
    for (size_t i = 0; i < n_listeners; i++)
        lurkd_notice("listening on %s", listeners[i].addr.text);
    if (rt->cfg->metrics != NULL)
        lurkd_notice("metrics on http://%s/metrics", rt->cfg->metrics->addr.text + 6);
    lurkd_notice("lurkd %s started: %zu keys, %u workers, %u I/O threads", LURKD_VERSION,
                 rt->keys->n_keys, rt->cfg->workers, rt->cfg->io_threads);
    notify_ready(false);
    rc = serve(&o, sfd);
    free(o.listen);
    free(o.keys);
    return rc;
}
