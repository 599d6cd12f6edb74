/*
 * Who may use which key for what (docs/architecture.md §5): a peer is identified by
 * its transport (tls:// client certificate SPKI hash, unix socket uid, or
 * "any tcp:// peer"), matched against [client.NAME] identities, and a key's
 * section lists the clients and exchanges it allows.
 */
#ifndef LURKD_CONF_POLICY_H
#define LURKD_CONF_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "conf/config.h"
#include "conf/identity.h"
#include "keys/keystore.h"

enum lurkd_peer_kind {
    LURKD_PEER_UNIX,
    LURKD_PEER_TCP,
    LURKD_PEER_TLS,
};

struct lurkd_peer {
    enum lurkd_peer_kind kind;
    uid_t uid;               /* unix */
    pid_t pid;               /* unix */
    uint8_t spki_sha256[32]; /* tls */
    /*
     * tls: the certificate's names, issuers and serial (identity = ca, CRLs);
     * allocated by net/tls.c, freed with the connection (net/conn.c); NULL
     * for other peers, so that they do not carry its kilobyte.
     */
    struct lurkd_cert_identity *cert;
    char text[96]; /* for logs: "uid:33", "spki-sha256:ab12...", "tcp:127.0.0.1:4711" */
};

/* The [client.NAME] the peer matches first, or NULL. */
const struct lurkd_client_conf *lurkd_policy_client(const struct lurkd_config *cfg,
                                                    const struct lurkd_peer *peer);
/*
 * Whether a tls:// peer has any business with lurkd: it matches a
 * [client.NAME], or something is open to every client ("*"). The handshake
 * refuses the others (net/tls.c).
 */
bool lurkd_policy_known(const struct lurkd_config *cfg, const struct lurkd_peer *peer);
/* Whether the peer is one of the named [client.NAME]s ("*": any peer). */
bool lurkd_policy_named(const struct lurkd_config *cfg, char *const *names, size_t n,
                        const struct lurkd_peer *peer);
/* Whether peer may use key for exchange; when not, *reason says why (for the audit log). */
bool lurkd_policy_allows(const struct lurkd_config *cfg, const struct lurkd_key *key,
                         const struct lurkd_peer *peer, enum lurkd_exchange ex,
                         const char **reason);
/* Whether peer may use key for at least one exchange (capabilities list it). */
bool lurkd_policy_visible(const struct lurkd_config *cfg, const struct lurkd_key *key,
                          const struct lurkd_peer *peer);
/* Whether peer may read the metrics (lurk "stats"): stats_clients, local root or lurkd's uid. */
bool lurkd_policy_stats(const struct lurkd_config *cfg, const struct lurkd_peer *peer);

#endif
