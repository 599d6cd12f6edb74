/*
 * lurkd's process and policy under attack (docs/security.md, "A hardened
 * process", "Attacks tried"): another process of the same user trying to
 * read lurkd's memory, root kept when it is not needed, RSA key transport
 * served without being asked for, and a flood of refused requests filling
 * the audit log. Key files shared with other users are refused with their
 * file and line (test_daemon_config); engine keys keep signing after root is
 * dropped (test_daemon_hsm).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_run.h"
#include "daemon_client.h"
#include "lurk/lurk.h"
#include "lurk/tls12.h"
#include "lurk/tls13.h"

static struct lurkd_proc lurkd;
static char tcp_addr[128], tls_addr[128];
static EVP_PKEY *p256;
static uint8_t p256_id[4];

static void setup(void)
{
    p256 = dc_load_key(lurk_test_pki("server-p256.key"));
    dc_key_id(p256, p256_id);
}

static void teardown(void)
{
    dc_stop(&lurkd);
    memset(&lurkd, 0, sizeof(lurkd));
    EVP_PKEY_free(p256);
}

/* A sign_certificate_verify with the P-256 key that must verify. */
static void sign_p256(struct lurk_conn *c)
{
    uint8_t hash[32], payload[64], content[160];
    struct lurk_response resp;
    lurk_cbs in, sig;
    size_t len, n;

    memset(hash, 0x5a, sizeof(hash));
    len = dc_sign_cv_payload(payload, 0, p256_id, 0x0403, LURK_TLS13_ROLE_SERVER, hash, 32);
    ck_assert_uint_eq(dc_call(c, LURK_DESIGNATION_TLS13, LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY,
                              payload, len, &resp),
                      LURK_STATUS_SUCCESS);
    in = resp.msg.payload;
    ck_assert(lurk_cbs_get_u16_prefixed(&in, &sig));
    n = dc_cv_content(content, LURK_TLS13_ROLE_SERVER, hash, 32);
    ck_assert(
        dc_verify(p256, "SHA256", false, content, n, lurk_cbs_data(&sig), lurk_cbs_len(&sig)));
    lurk_response_free(&resp);
}

/* The value of a "Name:\tvalue" line of /proc/PID/status. */
static void proc_status(pid_t pid, const char *name, char *out, size_t cap)
{
    char path[64], line[512];
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    out[0] = '\0';
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, name, strlen(name)) == 0 && line[strlen(name)] == ':') {
            const char *v = line + strlen(name) + 1;
            v += strspn(v, " \t");
            snprintf(out, cap, "%.*s", (int)strcspn(v, "\n"), v);
        }
    }
    fclose(f);
}

/*
 * What a process running as nobody gets when it reads target's environment
 * (/proc/PID/environ: the same user may read it unless the target is not
 * dumpable): 0 if it could, else the errno.
 */
static int read_as_nobody(pid_t target)
{
    struct passwd *pw = getpwnam("nobody");
    pid_t pid;
    int status;

    ck_assert_ptr_nonnull(pw);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char path[64], buf[64];
        int fd;
        if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
            _exit(200);
        snprintf(path, sizeof(path), "/proc/%d/environ", (int)target);
        fd = open(path, O_RDONLY);
        if (fd < 0)
            _exit(errno);
        _exit(read(fd, buf, sizeof(buf)) >= 0 ? 0 : errno);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) != 200);
    return WEXITSTATUS(status);
}

/* A plain process of user nobody, for comparison: sleep. */
static pid_t sleeper_as_nobody(void)
{
    struct passwd *pw = getpwnam("nobody");
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
            _exit(1);
        execlp("sleep", "sleep", "30", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/*
 * Started as root with user = nobody: lurkd becomes nobody (no other group,
 * root not recoverable), cannot dump core, and another process of user
 * nobody cannot read its memory or environment, while it can those of a
 * plain process of the same user (the check sees the difference). Keys
 * loaded as root keep signing; a reload that cannot read them (owner only,
 * root's) is refused and the old keys serve on.
 */
START_TEST(runs_as_its_user_and_cannot_be_read)
{
    char extra[512], value[256];
    struct lurk_conn *c;

    if (geteuid() != 0) {
        printf("runs_as_its_user_and_cannot_be_read: not root, nothing to drop\n");
        return;
    }
    snprintf(extra, sizeof(extra), "[key.p256]\nsource = %s\nclients = local\n",
             lurk_test_pki("server-p256.key"));
    dc_start(&lurkd, "user = nobody\ngroup = nogroup\n", extra, tcp_addr, tls_addr,
             sizeof(tcp_addr));
    ck_assert(dc_wait_count(lurkd.log, "running as user nobody", 1, 5000));
    proc_status(lurkd.pid, "Uid", value, sizeof(value));
    ck_assert_str_eq(value, "65534\t65534\t65534\t65534");
    proc_status(lurkd.pid, "Gid", value, sizeof(value));
    ck_assert_str_eq(value, "65534\t65534\t65534\t65534");
    proc_status(lurkd.pid, "Groups", value, sizeof(value));
    ck_assert_str_eq(value, "");
    /* No core file, whatever happens. */
    char path[64], *limits;
    snprintf(path, sizeof(path), "/proc/%d/limits", (int)lurkd.pid);
    limits = lurk_test_read_file(path, NULL);
    ck_assert_ptr_nonnull(limits);
    const char *core = strstr(limits, "Max core file size");
    char soft[32], hard[32];
    ck_assert_ptr_nonnull(core);
    ck_assert_int_eq(sscanf(core + strlen("Max core file size"), "%31s %31s", soft, hard), 2);
    ck_assert_msg(strcmp(soft, "0") == 0 && strcmp(hard, "0") == 0, "core limits %s %s", soft,
                  hard);
    free(limits);
    /* The attacker: another process of user nobody. */
    pid_t sleeper = sleeper_as_nobody();
    usleep(100 * 1000);
    int plain = read_as_nobody(sleeper), guarded = read_as_nobody(lurkd.pid);
    kill(sleeper, SIGKILL);
    waitpid(sleeper, NULL, 0);
    printf("figure: dumpable: another process of user nobody reading /proc/PID/environ: "
           "of a plain process %s, of lurkd %s\n",
           plain ? strerror(plain) : "read", guarded ? strerror(guarded) : "read");
    ck_assert_msg(plain == 0, "the comparison process could not be read: %s", strerror(plain));
    ck_assert_msg(guarded == EACCES, "lurkd's environment: %s",
                  guarded ? strerror(guarded) : "read by another process of its user");
    /* Loaded as root, the keys sign. */
    c = dc_connect(lurkd.unix_addr, 0);
    sign_p256(c);
    /* A reload as nobody cannot read root's key file: refused, nothing changes. */
    ck_assert_int_eq(kill(lurkd.pid, SIGHUP), 0);
    ck_assert(dc_wait_count(lurkd.log, "reload failed, still serving the previous configuration", 1,
                            5000));
    sign_p256(c);
    lurk_conn_close(c);
}
END_TEST

/* As root with no user to drop to, lurkd refuses to start unless told to stay root. */
START_TEST(root_without_a_user_is_refused)
{
    char out[4096], text[1024];
    const char *const run[] = {"-f", "-c", lurkd.conf, NULL};

    if (geteuid() != 0) {
        printf("root_without_a_user_is_refused: not root\n");
        return;
    }
    ck_assert(lurk_test_lurkd_init(&lurkd));
    snprintf(text, sizeof(text),
             "[lurkd]\n[listener.local]\naddress = %s\n[client.local]\nidentity = uid:0\n"
             "[key.k]\nsource = %s\nclients = local\n",
             lurkd.unix_addr, lurk_test_pki("server-p256.key"));
    ck_assert(lurk_test_write_file(&lurkd, "lurkd.conf", text));
    ck_assert_int_eq(dc_run(&lurkd, run, out, sizeof(out), 10000), 1);
    ck_assert_msg(strstr(out, "refusing to run as root") != NULL, "%s", out);
    ck_assert(access(lurkd.unix_addr + strlen("unix:"), F_OK) != 0);
    /* --user on the command line is enough. */
    const char *const as_nobody[] = {"-f", "-c", lurkd.conf, "--user", "nobody:nogroup", NULL};
    ck_assert(dc_start_args(&lurkd, as_nobody));
    ck_assert(dc_wait_count(lurkd.log, "running as user nobody", 1, 5000));
}
END_TEST

/* An rsa_premaster request for the key of id; its status. */
static uint8_t rsa_premaster(struct lurk_conn *c, const uint8_t id[4])
{
    struct lurk_tls12_rsa_premaster_request r = {.key_id.type = 0, .client_version = 0x0303};
    uint8_t ct[256] = {0}, buf[512];
    struct lurk_response resp;
    lurk_cbb cbb;
    uint8_t st;

    memcpy(r.key_id.id, id, 4);
    ct[1] = 1;
    lurk_cbs_init(&r.encrypted_premaster, ct, sizeof(ct));
    lurk_cbb_init_fixed(&cbb, buf, sizeof(buf));
    ck_assert(lurk_tls12_rsa_premaster_request_encode(&cbb, &r));
    st = dc_call(c, LURK_DESIGNATION_TLS12, LURK_TLS12_TYPE_RSA_PREMASTER, buf, lurk_cbb_len(&cbb),
                 &resp);
    lurk_response_free(&resp);
    return st;
}

/*
 * RSA key transport is served only for a key whose section names it (with
 * a warning at start): not by default, not for "exchanges = all", not for
 * --key.
 */
START_TEST(rsa_key_transport_only_when_named)
{
    EVP_PKEY *rsa = dc_load_key(lurk_test_pki("server-rsa2048.key"));
    EVP_PKEY *rsa3072 = dc_load_key(lurk_test_pki("server-rsa3072.key"));
    uint8_t id[4], id3072[4];
    char extra[1024];
    struct lurk_conn *c;

    dc_key_id(rsa, id);
    dc_key_id(rsa3072, id3072);
    snprintf(extra, sizeof(extra),
             "[key.default]\nsource = %s\nclients = local\n"
             "[key.named]\nsource = %s\nclients = local\nexchanges = all, rsa_premaster\n",
             lurk_test_pki("server-rsa2048.key"), lurk_test_pki("server-rsa3072.key"));
    dc_start(&lurkd, NULL, extra, tcp_addr, tls_addr, sizeof(tcp_addr));
    ck_assert_int_eq(dc_count(lurkd.log, "key named enables RSA key transport"), 1);
    ck_assert_int_eq(dc_count(lurkd.log, "key default enables"), 0);
    c = dc_connect(lurkd.unix_addr, 0);
    ck_assert_uint_eq(rsa_premaster(c, id), LURK_TLS12_STATUS_INVALID_KEY_ID);
    ck_assert_uint_eq(rsa_premaster(c, id3072), LURK_STATUS_SUCCESS);
    lurk_conn_close(c);
    /* The warning again at each reload that keeps it (security.md, "RSA key transport"). */
    ck_assert_int_eq(kill(lurkd.pid, SIGHUP), 0);
    ck_assert(dc_wait_count(lurkd.log, "configuration reloaded", 1, 5000));
    ck_assert_int_eq(dc_count(lurkd.log, "key named enables RSA key transport"), 2);
    ck_assert_int_eq(dc_count(lurkd.log, "key default enables"), 0);
    dc_stop(&lurkd);
    memset(&lurkd, 0, sizeof(lurkd));
    /* --key: the signing exchanges only. */
    ck_assert(lurk_test_lurkd_init(&lurkd));
    const char *const args[] = {"-f",
                                "--listen",
                                lurkd.unix_addr,
                                "--key",
                                lurk_test_pki("server-rsa2048.key"),
                                "--run-as-root",
                                NULL};
    ck_assert(dc_start_args(&lurkd, args));
    c = dc_connect(lurkd.unix_addr, 0);
    ck_assert_uint_eq(rsa_premaster(c, id), LURK_TLS12_STATUS_INVALID_KEY_ID);
    lurk_conn_close(c);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(rsa3072);
}
END_TEST

/*
 * A peer that sends 1000 refused requests (an unknown key) over 20
 * connections writes a few audit lines, one of them counting the rest;
 * its successful operations are each on their own line.
 */
START_TEST(refusal_floods_are_counted_not_logged)
{
    enum { CONNS = 20, PER_CONN = 50, OK = 10 };
    uint8_t unknown[4] = {0xde, 0xad, 0xbe, 0xef}, hash[32] = {0}, payload[64];
    size_t len = dc_sign_cv_payload(payload, 0, unknown, 0x0403, LURK_TLS13_ROLE_SERVER, hash, 32);
    char extra[256];

    snprintf(extra, sizeof(extra), "[key.p256]\nsource = %s\nclients = tcp\n",
             lurk_test_pki("server-p256.key"));
    dc_start(&lurkd, "audit_repeat_interval = 2s\n", extra, tcp_addr, tls_addr, sizeof(tcp_addr));
    for (int k = 0; k < CONNS; k++) {
        struct lurk_conn *c = dc_connect(tcp_addr, 0); /* a new source port each time */
        for (int i = 0; i < PER_CONN; i++) {
            struct lurk_response resp;
            ck_assert_uint_eq(dc_call(c, LURK_DESIGNATION_TLS13,
                                      LURK_TLS13_TYPE_SIGN_CERTIFICATE_VERIFY, payload, len, &resp),
                              LURK_TLS13_STATUS_INVALID_KEY_ID);
            lurk_response_free(&resp);
        }
        if (k < OK)
            sign_p256(c);
        lurk_conn_close(c);
    }
    /* The interval ends: the count line. */
    ck_assert(dc_wait_count(lurkd.audit, "\"repeated\":", 1, 6000));
    char *text = lurk_test_read_file(lurkd.audit, NULL);
    int refused_lines = 0, immediate = 0, success_lines = 0;
    unsigned long repeated = 0;
    for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        const char *r = strstr(line, "\"repeated\":");
        if (strstr(line, "\"status\":\"success\"") != NULL) {
            success_lines++;
        } else if (strstr(line, "unknown key") != NULL) {
            refused_lines++;
            if (r != NULL)
                repeated += strtoul(r + strlen("\"repeated\":"), NULL, 10);
            else
                immediate++;
        }
    }
    free(text);
    printf("figure: audit flood: %d refused requests wrote %d lines (one counting %lu); %d "
           "successes wrote %d\n",
           CONNS * PER_CONN, refused_lines, repeated, OK, success_lines);
    ck_assert_int_eq(success_lines, OK);
    ck_assert_msg(refused_lines <= 4, "%d audit lines for %d refusals", refused_lines,
                  CONNS * PER_CONN);
    ck_assert_uint_eq(repeated + (unsigned long)immediate, CONNS * PER_CONN);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("daemon_hardening");
    TCase *tc = tcase_create("hardening");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, runs_as_its_user_and_cannot_be_read);
    tcase_add_test(tc, root_without_a_user_is_refused);
    tcase_add_test(tc, rsa_key_transport_only_when_named);
    tcase_add_test(tc, refusal_floods_are_counted_not_logged);
    suite_add_tcase(s, tc);
    return lurk_test_run(s, CK_FORK_GETENV);
}
