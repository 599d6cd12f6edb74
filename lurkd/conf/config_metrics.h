/*
 * lurkd configuration of the Prometheus endpoint: the [metrics] section
 * (docs/deploy.md §8). Off unless the section sets an address. config.c
 * finds the section and lends its helpers (struct lurkd_config_reader,
 * conf/config_tls13.h).
 */
#ifndef LURKD_CONF_CONFIG_METRICS_H
#define LURKD_CONF_CONFIG_METRICS_H

#include <stdbool.h>

#include <openssl/conf.h>

#include "conf/config_tls13.h"
#include "lurk/address.h"

struct lurkd_metrics_conf {
    struct lurk_address addr; /* HOST:PORT, kept as tcp://HOST:PORT */
    unsigned max_connections; /* HTTP connections at once */
    unsigned timeout;         /* seconds an HTTP connection may stay idle */
    char *where;              /* "file:line" of the section */
    char *address_where;      /* "file:line" of its address setting */
};

/* [metrics] into *m (allocated with the defaults); false after r->fail. */
bool lurkd_config_metrics_section(const struct lurkd_config_reader *r,
                                  struct lurkd_metrics_conf **m, const char *section,
                                  STACK_OF(CONF_VALUE) * values);
/* NULL is a no-op. */
void lurkd_config_metrics_free(struct lurkd_metrics_conf *m);

#endif
