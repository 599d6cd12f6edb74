/* [metrics]; see config_metrics.h and docs/deploy.md §8. */
#include "conf/config_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * A management port: a scraper or two, and an operator's curl. More than
 * that is someone trying to hold lurkd's HTTP thread (docs/deploy.md §8).
 */
#define DEFAULT_MAX_CONNECTIONS 16
#define DEFAULT_TIMEOUT         10

bool lurkd_config_metrics_section(const struct lurkd_config_reader *r,
                                  struct lurkd_metrics_conf **out, const char *section,
                                  STACK_OF(CONF_VALUE) * values)
{
    struct lurkd_metrics_conf *m = calloc(1, sizeof(*m));
    char msg[600];
    bool have_address = false;

    if (m == NULL)
        return r->fail(r->ctx, section, NULL, "out of memory");
    lurkd_config_metrics_free(*out);
    *out = m;
    m->max_connections = DEFAULT_MAX_CONNECTIONS;
    m->timeout = DEFAULT_TIMEOUT;
    m->where = r->where(r->ctx, section, NULL);
    for (int i = 0; i < sk_CONF_VALUE_num(values); i++) {
        CONF_VALUE *v = sk_CONF_VALUE_value(values, i);
        unsigned long long n;
        if (strcmp(v->name, "address") == 0) {
            char text[300], aerr[300];
            const char *why;
            /* HOST:PORT; a scheme or a path is a listener's syntax, not this one. */
            if (strstr(v->value, "://") != NULL || strncmp(v->value, "unix:", 5) == 0 ||
                strlen(v->value) > 256 || strpbrk(v->value, " \t") != NULL)
                return r->fail(r->ctx, section, v->name,
                               "address must be HOST:PORT (e.g. 192.0.2.10:9273 or [::1]:9273)");
            snprintf(text, sizeof(text), "tcp://%s", v->value);
            if (!lurk_address_parse(text, &m->addr, aerr, sizeof(aerr))) {
                /* The parser's reason, without its quote of the tcp:// form. */
                why = strstr(aerr, "\": ");
                snprintf(msg, sizeof(msg), "address must be HOST:PORT: %s",
                         why != NULL ? why + 3 : aerr);
                return r->fail(r->ctx, section, v->name, msg);
            }
            if (strcmp(m->addr.port, "0") == 0)
                return r->fail(r->ctx, section, v->name, "address needs a port other than 0");
            free(m->address_where);
            m->address_where = r->where(r->ctx, section, v->name);
            have_address = true;
        } else if (strcmp(v->name, "max_connections") == 0) {
            if (!r->parse_uint(v->value, 1, 1024, false, &n))
                return r->fail(r->ctx, section, v->name, "max_connections must be 1..1024");
            m->max_connections = (unsigned)n;
        } else if (strcmp(v->name, "timeout") == 0) {
            if (!r->parse_uint(v->value, 1, 300, true, &n))
                return r->fail(r->ctx, section, v->name, "timeout must be 1s..5m");
            m->timeout = (unsigned)n;
        } else {
            snprintf(msg, sizeof(msg),
                     "unknown setting \"%s\" in [metrics] (expected address, max_connections, "
                     "timeout)",
                     v->name);
            return r->fail(r->ctx, section, v->name, msg);
        }
    }
    if (!have_address)
        return r->fail(r->ctx, section, NULL,
                       "[metrics] has no address (set address = HOST:PORT, or remove the section)");
    return true;
}

void lurkd_config_metrics_free(struct lurkd_metrics_conf *m)
{
    if (m == NULL)
        return;
    free(m->where);
    free(m->address_where);
    free(m);
}
