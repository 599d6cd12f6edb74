/*
 * lurkd's configuration as an operator meets it: `lurkd --check` and
 * startup refuse every bad line with "FILE:LINE: reason" and exit status
 * 1, leaving nothing behind; a good config prints each key's id (checked
 * against the id computed here); the --listen/--key quick start works
 * without a file; docs/lurkd.conf.example passes --check.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_run.h"
#include "daemon_client.h"
#include "lurk/lurk.h"
#include "lurk/tls13.h"

static struct lurkd_proc lurkd;

/* Copies of a private key that its group, or everyone, may read. */
static void shared_key(const char *name, mode_t mode)
{
    char *pem = lurk_test_read_file(lurk_test_pki("server-p256.key"), NULL);
    char path[600];

    ck_assert_ptr_nonnull(pem);
    ck_assert(lurk_test_write_file(&lurkd, name, pem));
    snprintf(path, sizeof(path), "%s/%s", lurkd.dir, name);
    ck_assert_int_eq(chmod(path, mode), 0);
    free(pem);
}

static void setup(void)
{
    ck_assert(lurk_test_lurkd_init(&lurkd));
    shared_key("world.key", 0644);
    shared_key("group.key", 0640);
}

static void teardown(void)
{
    dc_stop(&lurkd);
}

/* @DIR@ and @PKI@ in a config template become the test directory and the test PKI. */
static char *expand(const char *tmpl)
{
    char pki[512], *a, *b;

    snprintf(pki, sizeof(pki), "%s", lurk_test_pki(""));
    pki[strlen(pki) - 1] = '\0'; /* no trailing slash */
    a = lurk_test_replace_all(tmpl, "@DIR@", lurkd.dir);
    b = lurk_test_replace_all(a, "@PKI@", pki);
    free(a);
    return b;
}

/* ---- bad configurations ---- */

#define MARK     " #<" /* marks the line the error must name; removed before writing */
#define LISTENER "[listener.local]\naddress = unix:@DIR@/lurkd.sock\n"
#define CLIENT   "[client.local]\nidentity = uid:0\n"
#define KEY      "[key.k]\nsource = @PKI@/server-p256.key\nclients = local\n"

static const struct bad_case {
    const char *what;
    const char *text; /* exactly one line ends with MARK */
    const char *reason;
} bad_cases[] = {
    {"unknown setting", "[lurkd]\nworkers = 2\nworkerz = 2" MARK "\n" LISTENER CLIENT KEY,
     "unknown setting \"workerz\""},
    {"bad number", "[lurkd]\nworkers = lots" MARK "\n" LISTENER CLIENT KEY,
     "workers must be auto or 1..1024"},
    {"bad duration", "[lurkd]\nlog_level = info\nidle_timeout = 5x" MARK "\n" LISTENER CLIENT KEY,
     "idle_timeout must be"},
    {"size too small", "[lurkd]\nmax_frame_size = 100" MARK "\n" LISTENER CLIENT KEY,
     "max_frame_size must be 1k..16m"},
    {"bad log level", "[lurkd]\nlog_level = loud" MARK "\n" LISTENER CLIENT KEY,
     "log_level must be"},
    {"bad boolean", "[lurkd]\n" LISTENER CLIENT KEY "null_freshness = maybe" MARK "\n",
     "null_freshness must be yes or no"},
    {"unknown exchange", "[lurkd]\n" LISTENER CLIENT KEY "exchanges = ecdhe, rsa_mastr" MARK "\n",
     "unknown exchange \"rsa_mastr\""},
    {"unknown key setting", "[lurkd]\n" LISTENER CLIENT KEY "clients_ = local" MARK "\n",
     "unknown setting \"clients_\" in a key section"},
    {"unknown section",
     "[lurkd]\n" LISTENER "[listner.x]" MARK "\naddress = unix:@DIR@/x.sock\n" CLIENT KEY,
     "unknown section [listner.x]"},
    {"key without source",
     "[lurkd]\n" LISTENER CLIENT "[key.k]" MARK "\nclients = local\nexchanges = all\n",
     "key \"k\" has no source"},
    {"key without clients",
     "[lurkd]\n" LISTENER CLIENT "[key.k]" MARK "\nsource = @PKI@/server-p256.key\n",
     "key \"k\" lists no clients"},
    {"unknown client name",
     "[lurkd]\n" LISTENER CLIENT
     "[key.k]\nsource = @PKI@/server-p256.key\nclients = local, nobody" MARK "\n",
     "unknown client \"nobody\""},
    {"bad spki identity",
     "[lurkd]\n" LISTENER "[client.local]\nidentity = spki-sha256:abcd" MARK "\n" KEY,
     "bad identity \"spki-sha256:abcd\""},
    {"unknown user identity",
     "[lurkd]\n" LISTENER "[client.local]\nidentity = uid:no-such-user-here" MARK "\n" KEY,
     "bad identity"},
    {"unknown identity kind",
     "[lurkd]\n" LISTENER "[client.local]\nidentity = ip:10.0.0.1" MARK "\n" KEY, "bad identity"},
    {"listener without address",
     "[lurkd]\n" LISTENER "[listener.other]" MARK "\nmode = 0600\n" CLIENT KEY,
     "listener \"other\" has no address"},
    {"bad address", "[lurkd]\n[listener.local]\naddress = udp://127.0.0.1:1" MARK "\n" CLIENT KEY,
     "bad address"},
    {"tls listener without client_ca",
     "[lurkd]\n" LISTENER CLIENT KEY "[listener.tls]" MARK
     "\naddress = tls://127.0.0.1:0\ncertificate = @PKI@/lurkd.crt\n"
     "private_key = @PKI@/lurkd.key\n",
     "needs certificate, private_key and client_ca"},
    {"plain tcp on a non-loopback address",
     "[lurkd]\n" LISTENER CLIENT KEY "[listener.tcp]\nmode = 0600\naddress = tcp://0.0.0.0:0" MARK
     "\n",
     "plain tcp:// on non-loopback address tcp://0.0.0.0:0 is refused"},
    {"duplicate listener address",
     "[lurkd]\n" LISTENER CLIENT KEY "[listener.again]\naddress = unix:@DIR@/lurkd.sock" MARK "\n",
     "address unix:"},
    {"the same key twice",
     "[lurkd]\n" LISTENER CLIENT KEY
     "[key.again]\nclients = local\nsource = @PKI@/server-p256.key" MARK "\n",
     "has the same key id"},
    {"missing key file",
     "[lurkd]\n" LISTENER CLIENT "[key.k]\nclients = local\nsource = @DIR@/missing.key" MARK "\n",
     "key \"k\""},
    {"not a key file",
     "[lurkd]\n" LISTENER CLIENT "[key.k]\nclients = local\nsource = @PKI@/ca.crt" MARK "\n",
     "key \"k\""},
    {"certificate of another key",
     "[lurkd]\n" LISTENER CLIENT KEY "certificate = @PKI@/server-p384.crt" MARK "\n",
     "does not match the key"},
    {"key file anyone may read",
     "[lurkd]\n" LISTENER CLIENT "[key.k]\nclients = local\nsource = @DIR@/world.key" MARK "\n",
     "world.key may be read or written by its group or others (mode 0644)"},
    {"key file its group may read",
     "[lurkd]\n" LISTENER CLIENT "[key.k]\nclients = local\nsource = @DIR@/group.key" MARK "\n",
     "(mode 0640): make it private (chmod 600 "},
    {"listener key anyone may read",
     "[lurkd]\n" LISTENER CLIENT KEY "[listener.tls]" MARK
     "\naddress = tls://127.0.0.1:0\ncertificate = @PKI@/lurkd.crt\n"
     "private_key = @DIR@/world.key\nclient_ca = @PKI@/ca.crt\n",
     "/world.key may be read or written by its group or others"},
    {"PSK secret_file anyone may read",
     "[lurkd]\n" LISTENER CLIENT KEY "[psk.p]\nidentity = p\nclients = local\n"
     "secret_file = @DIR@/world.key" MARK "\n",
     "may be read or written by its group or others"},
    {"unknown user", "[lurkd]\nuser = no-such-user-here" MARK "\n" LISTENER CLIENT KEY,
     "unknown user \"no-such-user-here\""},
    {"user root", "[lurkd]\nuser = root" MARK "\n" LISTENER CLIENT KEY,
     "is root (to stay root, set run_as_root = yes)"},
    {"group without user", "[lurkd]\ngroup = nogroup" MARK "\n" LISTENER CLIENT KEY,
     "group = nogroup needs a user setting"},
    {"unknown group", "[lurkd]\nuser = nobody\ngroup = no-such-group" MARK "\n" LISTENER CLIENT KEY,
     "unknown group \"no-such-group\""},
    {"request_timeout of zero", "[lurkd]\nrequest_timeout = 0" MARK "\n" LISTENER CLIENT KEY,
     "request_timeout must be 1s..1h"},
    {"idle_poll_us too long", "[lurkd]\nidle_poll_us = 1001" MARK "\n" LISTENER CLIENT KEY,
     "idle_poll_us must be 0..1000"},
    {"idle_poll_us negative", "[lurkd]\nidle_poll_us = -5" MARK "\n" LISTENER CLIENT KEY,
     "idle_poll_us must be 0..1000"},
    {"idle_poll_us not a number", "[lurkd]\nidle_poll_us = fast" MARK "\n" LISTENER CLIENT KEY,
     "idle_poll_us must be 0..1000"},
    {"idle_poll_us with a unit", "[lurkd]\nidle_poll_us = 50us" MARK "\n" LISTENER CLIENT KEY,
     "idle_poll_us must be 0..1000"},
    {"max_connections_per_peer of zero",
     "[lurkd]\nmax_connections_per_peer = 0" MARK "\n" LISTENER CLIENT KEY,
     "max_connections_per_peer must be 1..1000000"},
    {"peer_queue_limit of zero", "[lurkd]\npeer_queue_limit = 0" MARK "\n" LISTENER CLIENT KEY,
     "peer_queue_limit must be 1..1000000"},
    {"peer_queue_limit not a number",
     "[lurkd]\npeer_queue_limit = many" MARK "\n" LISTENER CLIENT KEY,
     "peer_queue_limit must be 1..1000000"},
    {"syntax error", "[lurkd]\nworkers = 2\nworkers 2" MARK "\n" LISTENER CLIENT KEY,
     "syntax error"},
    {"unterminated section header", "[lurkd]\n[listener.local" MARK "\n" CLIENT KEY,
     "syntax error"},
    {"setting outside any section", "workers = 2" MARK "\n[lurkd]\n" LISTENER CLIENT KEY,
     "setting outside any section"},
    {"setting given twice",
     "[lurkd]\nworkers = 2\nlog_level = info\nworkers = 3" MARK "\n" LISTENER CLIENT KEY,
     "\"workers\" is set twice in [lurkd] (first at "},
    {"key setting given twice",
     "[lurkd]\n" LISTENER CLIENT KEY "exchanges = ecdhe\nclients = *" MARK "\n",
     "\"clients\" is set twice in [key.k]"},
    {"section given twice, setting in both",
     "[lurkd]\nworkers = 2\n" LISTENER CLIENT KEY "[lurkd]\nworkers = 4" MARK "\n",
     "\"workers\" is set twice in [lurkd]"},
    {"audit log in a missing directory",
     "[lurkd]\naudit_log = @DIR@/no/such/dir/audit.log" MARK "\n" LISTENER CLIENT KEY,
     "/no/such/dir does not exist"},
    {"error log in a missing directory",
     "[lurkd]\nerror_log = /nonexistent-lurk/error.log" MARK "\n" LISTENER CLIENT KEY,
     "directory /nonexistent-lurk does not exist"},
    {"pid file in a missing directory",
     "[lurkd]\npid_file = @DIR@/run/lurkd.pid" MARK "\n" LISTENER CLIENT KEY,
     "/run does not exist"},
    {"match rule with a wildcard inside",
     "[lurkd]\n" LISTENER KEY "[client.local]\nidentity = ca\nmatch = san:a.*.example.net" MARK
     "\n",
     "bad match rule \"san:a.*.example.net\""},
    {"match rule with a wildcard over one label",
     "[lurkd]\n" LISTENER KEY "[client.local]\nidentity = ca\nmatch = san:*.net" MARK "\n",
     "at least two labels"},
    {"match rule of an unknown kind",
     "[lurkd]\n" LISTENER KEY "[client.local]\nidentity = ca\nmatch = ip:10.0.0.1" MARK "\n",
     "bad match rule \"ip:10.0.0.1\""},
    {"uri rule with a wildcard",
     "[lurkd]\n" LISTENER KEY "[client.local]\nidentity = ca\nmatch = uri:spiffe://x/*" MARK "\n",
     "compared exactly"},
    {"identity = ca without match",
     "[lurkd]\n" LISTENER KEY "[client.local]\nidentity = ca" MARK "\n",
     "identity = ca needs match"},
    {"match without identity = ca",
     "[lurkd]\n" LISTENER KEY "[client.local]\nidentity = uid:0\nmatch = cn:fe1" MARK "\n",
     "match applies to identity = ca only"},
    {"ca that is not a certificate file",
     "[lurkd]\n" LISTENER KEY
     "[client.local]\nidentity = ca\nmatch = cn:fe1\nca = @PKI@/client1.spki" MARK "\n",
     "holds no PEM certificate"},
};

/* Writes the case's config (without the mark) and returns the marked line's number. */
static int write_bad_config(const struct bad_case *bc)
{
    char *text = expand(bc->text), *mark = strstr(text, MARK);
    int line = 1;

    ck_assert_msg(mark != NULL && strstr(mark + 1, MARK) == NULL, "%s: one mark", bc->what);
    for (const char *p = text; p < mark; p++)
        line += *p == '\n';
    memmove(mark, mark + strlen(MARK), strlen(mark + strlen(MARK)) + 1);
    ck_assert(lurk_test_write_file(&lurkd, "lurkd.conf", text));
    free(text);
    return line;
}

static bool exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

START_TEST(bad_line_names_file_and_line)
{
    const struct bad_case *bc = &bad_cases[_i];
    const char *const check[] = {"--check", "-c", lurkd.conf, NULL};
    const char *const run[] = {"-f", "-c", lurkd.conf, NULL};
    const char *const *modes[] = {check, run};
    char out[4096], prefix[600];
    int line = write_bad_config(bc);

    snprintf(prefix, sizeof(prefix), "lurkd: %s:%d: ", lurkd.conf, line);
    for (int m = 0; m < 2; m++) {
        int st = dc_run(&lurkd, modes[m], out, sizeof(out), 10000);
        ck_assert_msg(st == DC_EXIT_CONFIG, "%s (%s): exit status %d, output:\n%s", bc->what,
                      modes[m][0], st, out);
        ck_assert_msg(strstr(out, prefix) != NULL, "%s (%s): no \"%s\" in:\n%s", bc->what,
                      modes[m][0], prefix, out);
        ck_assert_msg(strstr(out, bc->reason) != NULL, "%s (%s): no \"%s\" in:\n%s", bc->what,
                      modes[m][0], bc->reason, out);
        dc_assert_no_sanitizer_report(lurkd.log);
        /* nothing half-started */
        ck_assert(!exists(lurkd.unix_addr + strlen("unix:")));
    }
}
END_TEST

/*
 * Errors inside an .include'd file name that file and line, and a setting
 * given in the main file and again in the included one is an error naming both.
 */
START_TEST(included_file_errors_name_the_included_file)
{
    const char *const check[] = {"--check", "-c", lurkd.conf, NULL};
    char out[4096], want[900], *text;
    const char *inc;

    text = expand("# keys\n[key.k]\nsource = @PKI@/server-p256.key\nclients = nobody\n");
    inc = dc_write_file(&lurkd, "keys.conf", text);
    free(text);
    snprintf(want, sizeof(want), "lurkd: %s:4: unknown client \"nobody\"", inc);
    text = expand("[lurkd]\nworkers = 2\n" LISTENER CLIENT ".include @DIR@/keys.conf\n");
    ck_assert(lurk_test_write_file(&lurkd, "lurkd.conf", text));
    free(text);
    ck_assert_int_eq(dc_run(&lurkd, check, out, sizeof(out), 10000), DC_EXIT_CONFIG);
    ck_assert_msg(strstr(out, want) != NULL, "no \"%s\" in:\n%s", want, out);

    text = expand("[lurkd]\nlog_level = debug\n" KEY);
    inc = dc_write_file(&lurkd, "more.conf", text);
    free(text);
    text = expand("[lurkd]\nlog_level = info\n" LISTENER CLIENT ".include @DIR@/more.conf\n");
    ck_assert(lurk_test_write_file(&lurkd, "lurkd.conf", text));
    free(text);
    ck_assert_int_eq(dc_run(&lurkd, check, out, sizeof(out), 10000), DC_EXIT_CONFIG);
    snprintf(want, sizeof(want),
             "lurkd: %s:2: \"log_level\" is set twice in [lurkd] (first at %s:2)", inc, lurkd.conf);
    ck_assert_msg(strstr(out, want) != NULL, "no \"%s\" in:\n%s", want, out);
}
END_TEST

/* ---- failures after the config is read: nothing left listening ---- */

static int listening_socket(int *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
              listen(fd, 1) == 0 && getsockname(fd, (struct sockaddr *)&sin, &len) == 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

static bool port_free(int port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                              .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    bool ok;

    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ok = bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 && listen(fd, 1) == 0;
    close(fd);
    return ok;
}

START_TEST(failed_start_leaves_nothing_listening)
{
    const char *const run[] = {"-f", "-c", lurkd.conf, "--run-as-root", NULL};
    char text[2048], out[4096], want[600];
    int busy_port, free_port, busy = listening_socket(&busy_port);
    int probe = listening_socket(&free_port);

    close(probe); /* free_port is now free; lurkd binds it first, then fails */
    /* 1: the third listener's port is taken: the first two are undone. */
    snprintf(text, sizeof(text),
             "[lurkd]\n"
             "[listener.local]\naddress = %s\n"
             "[listener.tcp]\naddress = tcp://127.0.0.1:%d\n"
             "[listener.busy]\naddress = tcp://127.0.0.1:%d\n" CLIENT,
             lurkd.unix_addr, free_port, busy_port);
    ck_assert(lurk_test_write_file(&lurkd, "lurkd.conf", text));
    ck_assert_int_eq(dc_run(&lurkd, run, out, sizeof(out), 10000), 1);
    snprintf(want, sizeof(want), "lurkd: %s:7: cannot listen on tcp://127.0.0.1:%d", lurkd.conf,
             busy_port);
    ck_assert_msg(strstr(out, want) != NULL, "no \"%s\" in:\n%s", want, out);
    ck_assert(!exists(lurkd.unix_addr + 5));
    ck_assert(port_free(free_port));
    /* 2: the audit log cannot be opened once the listeners are bound (it is a directory). */
    snprintf(text, sizeof(text),
             "[lurkd]\naudit_log = %s\n"
             "[listener.local]\naddress = %s\n"
             "[listener.tcp]\naddress = tcp://127.0.0.1:%d\n" CLIENT,
             lurkd.dir, lurkd.unix_addr, free_port);
    ck_assert(lurk_test_write_file(&lurkd, "lurkd.conf", text));
    ck_assert_int_eq(dc_run(&lurkd, run, out, sizeof(out), 10000), 1);
    ck_assert_msg(strstr(out, "cannot open audit_log") != NULL, "%s", out);
    ck_assert_msg(!exists(lurkd.unix_addr + 5), "unix socket left behind");
    ck_assert(port_free(free_port));
    dc_assert_no_sanitizer_report(lurkd.log);
    close(busy);
}
END_TEST

/* ---- good configurations ---- */

static const char *const kinds[] = {"rsa2048", "rsapss",  "p256", "p384",
                                    "p521",    "ed25519", "ed448"};

/* --check prints every key with the id computed here, binds nothing, exits 0. */
START_TEST(check_prints_key_ids)
{
    const char *const check[] = {"--check", "-c", lurkd.conf, NULL};
    char extra[4096] = "", out[8192], line[256], file[64], id[9];

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        snprintf(file, sizeof(file), "server-%s.key", kinds[i]);
        snprintf(line, sizeof(line), "[key.%s]\nsource = %s\nclients = *\n", kinds[i],
                 lurk_test_pki(file));
        strcat(extra, line);
    }
    ck_assert(dc_write_config(&lurkd, NULL, extra));
    ck_assert_int_eq(dc_run(&lurkd, check, out, sizeof(out), 10000), 0);
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        snprintf(file, sizeof(file), "server-%s.key", kinds[i]);
        EVP_PKEY *pkey = dc_load_key(lurk_test_pki(file));
        dc_key_id_hex(pkey, id);
        EVP_PKEY_free(pkey);
        snprintf(line, sizeof(line), "key %s: id %s,", kinds[i], id);
        ck_assert_msg(strstr(out, line) != NULL, "no \"%s\" in:\n%s", line, out);
    }
    ck_assert(strstr(out, "is ok") != NULL);
    ck_assert(!exists(lurkd.unix_addr + 5));
}
END_TEST

/* lurkd --listen ... --key ...: no config file, every client may use the keys. */
START_TEST(quick_start_without_config_file)
{
    char sock[400], check_out[4096], tcp[128];
    const char *p256 = lurk_test_pki("server-p256.key");
    const char *ed = lurk_test_pki("server-ed25519.key");
    const char *const check[] = {"--check", "--listen", "tcp://127.0.0.1:0", "--key", p256, NULL};

    /* --check with the same flags prints the key id too. */
    ck_assert_int_eq(dc_run(&lurkd, check, check_out, sizeof(check_out), 10000), 0);
    snprintf(sock, sizeof(sock), "%s", lurkd.unix_addr);
    const char *const args[] = {"-f",    "--listen", sock,    "--listen", "tcp://127.0.0.1:0",
                                "--key", p256,       "--key", ed,         "--run-as-root",
                                NULL};
    ck_assert_msg(dc_start_args(&lurkd, args), "quick start failed");
    ck_assert(lurk_test_lurkd_address(&lurkd, "tcp://", tcp, sizeof(tcp)));
    struct {
        const char *file;
        uint16_t scheme;
        const char *md;
    } keys[] = {{"server-p256.key", 0x0403, "SHA256"}, {"server-ed25519.key", 0x0807, NULL}};
    for (int t = 0; t < 2; t++) {
        struct lurk_conn *c = dc_connect(t ? tcp : sock, 0);
        for (int k = 0; k < 2; k++) {
            EVP_PKEY *pkey = dc_load_key(lurk_test_pki(keys[k].file));
            uint8_t id_bytes[4], hash[32], payload[64], content[160];
            struct lurk_response resp;
            char id[9];
            dc_key_id(pkey, id_bytes);
            memset(hash, 0xab, sizeof(hash));
            size_t len = dc_sign_cv_payload(payload, 0, id_bytes, keys[k].scheme,
                                            LURK_TLS13_ROLE_CLIENT, hash, sizeof(hash));
            ck_assert_uint_eq(dc_call(c, LURK_DESIGNATION_TLS13,
                                      LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY, payload, len, &resp),
                              LURK_STATUS_SUCCESS);
            size_t n = dc_cv_content(content, LURK_TLS13_ROLE_CLIENT, hash, sizeof(hash));
            lurk_cbs in = resp.msg.payload, sig;
            ck_assert(lurk_cbs_get_u16_prefixed(&in, &sig));
            ck_assert(dc_verify(pkey, keys[k].md, false, content, n, lurk_cbs_data(&sig),
                                lurk_cbs_len(&sig)));
            lurk_response_free(&resp);
            dc_key_id_hex(pkey, id);
            if (k == 0)
                ck_assert_msg(strstr(check_out, id) != NULL, "--check did not print %s:\n%s", id,
                              check_out);
            EVP_PKEY_free(pkey);
        }
        lurk_conn_close(c);
    }
}
END_TEST

/* The files docs/lurkd.conf.example names, and the test PKI files that stand in for them. */
static const struct {
    const char *path; /* under /etc/lurkd/ */
    const char *pki;
} example_files[] = {
    {"tls/lurkd.crt", "lurkd.crt"},
    {"tls/lurkd.key", "lurkd.key"},
    {"tls/clients-ca.crt", "ca.crt"},
    {"keys/www.example.com-rsa.key", "server-rsa2048.key"},
    {"keys/www.example.com-rsa.crt", "server-rsa2048.crt"},
    {"keys/www.example.com-ecdsa.key", "server-p256.key"},
    {"keys/www.example.com-ecdsa.crt", "server-p256.crt"},
};

/* Every setting config.c knows: the example documents each one. */
static const char *const settings[] = {
    "workers",
    "io_threads",
    "idle_poll_us",
    "max_frame_size",
    "queue_limit",
    "peer_queue_limit",
    "connection_queue_limit",
    "max_connections",
    "idle_timeout",
    "drain_timeout",
    "audit_log",
    "error_log",
    "max_connections_per_peer",
    "request_timeout",
    "audit_repeat_interval",
    "user",
    "group",
    "run_as_root",
    "log_level",
    "pid_file",
    "stats_clients",
    "certificate",
    "private_key",
    "client_ca",
    "address",
    "insecure",
    "mode",
    "identity",
    "source",
    "exchanges",
    "clients",
    "null_freshness",
    "check_time",
    "time_window",
};

START_TEST(example_config_passes_check)
{
    char path[700], dest[700], out[8192], id[9], want[64];
    const char *const check[] = {"--check", "-c", lurkd.conf, NULL};
    char *example, *a, *b, *c;

    snprintf(path, sizeof(path), "%s/docs/lurkd.conf.example", LURK_SOURCE_ROOT);
    example = lurk_test_read_file(path, NULL);
    ck_assert_msg(example != NULL, "cannot read %s", path);
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
        snprintf(want, sizeof(want), "\n%s = ", settings[i]);
        char commented[64];
        snprintf(commented, sizeof(commented), "\n#%s = ", settings[i]);
        ck_assert_msg(strstr(example, want) || strstr(example, commented),
                      "the example does not show %s", settings[i]);
    }
    /* Its paths, moved into the test directory. */
    snprintf(path, sizeof(path), "%s/", lurkd.dir);
    a = lurk_test_replace_all(example, "/etc/lurkd/", path);
    b = lurk_test_replace_all(a, "/run/lurkd/", path);
    c = lurk_test_replace_all(b, "/var/log/lurkd/", path);
    ck_assert(lurk_test_write_file(&lurkd, "lurkd.conf", c));
    free(example);
    free(a);
    free(b);
    free(c);
    snprintf(path, sizeof(path), "%s/tls", lurkd.dir);
    ck_assert(mkdir(path, 0700) == 0);
    snprintf(path, sizeof(path), "%s/keys", lurkd.dir);
    ck_assert(mkdir(path, 0700) == 0);
    for (size_t i = 0; i < sizeof(example_files) / sizeof(example_files[0]); i++) {
        char *data = lurk_test_read_file(lurk_test_pki(example_files[i].pki), NULL);
        ck_assert(data != NULL);
        snprintf(dest, sizeof(dest), "%s", example_files[i].path);
        dc_write_file(&lurkd, dest, data);
        free(data);
    }
    int st = dc_run(&lurkd, check, out, sizeof(out), 10000);
    ck_assert_msg(st == 0, "--check of the example: %d\n%s", st, out);
    static const struct {
        const char *name, *pki;
    } keys[] = {{"www-rsa", "server-rsa2048.key"}, {"www-ecdsa", "server-p256.key"}};
    for (size_t i = 0; i < 2; i++) {
        EVP_PKEY *pkey = dc_load_key(lurk_test_pki(keys[i].pki));
        dc_key_id_hex(pkey, id);
        EVP_PKEY_free(pkey);
        snprintf(want, sizeof(want), "key %s: id %s,", keys[i].name, id);
        ck_assert_msg(strstr(out, want) != NULL, "no \"%s\" in:\n%s", want, out);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("daemon_config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, bad_line_names_file_and_line, 0,
                        (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
    tcase_add_test(tc, included_file_errors_name_the_included_file);
    tcase_add_test(tc, failed_start_leaves_nothing_listening);
    tcase_add_test(tc, check_prints_key_ids);
    tcase_add_test(tc, quick_start_without_config_file);
    tcase_add_test(tc, example_config_passes_check);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
