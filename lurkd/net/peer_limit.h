/*
 * Connections, and requests waiting for a worker, per peer (docs/security.md,
 * "Connection limits"): a peer is a uid on unix:, an IP address on tcp://
 * and during a tls:// handshake, and the client certificate's identity once
 * a tls:// handshake is done, so a front end behind a shared address is not
 * limited by its neighbours once it has authenticated, and one peer cannot
 * hold every connection lurkd allows, nor every place in the workers'
 * queue. The counts are shared by every thread.
 */
#ifndef LURKD_NET_PEER_LIMIT_H
#define LURKD_NET_PEER_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

enum lurkd_peer_key_kind {
    LURKD_PEER_KEY_NONE, /* not counted */
    LURKD_PEER_KEY_UID,
    LURKD_PEER_KEY_IP,
    LURKD_PEER_KEY_IDENTITY, /* SHA-256 of the client certificate's SPKI */
};

struct lurkd_peer_key {
    uint8_t kind; /* enum lurkd_peer_key_kind */
    uint8_t len;
    uint8_t bytes[32];
};

/* lurkd_peer_key_uid, _ip and _identity fill key for a uid, an address or an SPKI hash. */
void lurkd_peer_key_uid(struct lurkd_peer_key *key, uid_t uid);
void lurkd_peer_key_ip(struct lurkd_peer_key *key, const struct sockaddr_storage *ss);
void lurkd_peer_key_identity(struct lurkd_peer_key *key, const uint8_t spki_sha256[32]);

/* What is counted per peer, each in a table of its own. */
enum lurkd_peer_count {
    LURKD_PEER_CONNECTIONS, /* open connections (max_connections_per_peer) */
    LURKD_PEER_QUEUED,      /* requests waiting for a worker (peer_queue_limit) */
    LURKD_PEER_COUNT_KINDS,
};

/*
 * lurkd_peer_limit_acquire counts one more of what for key; false (and
 * nothing counted) when the key already has cap of them or the table
 * cannot grow. A key of kind NONE is always accepted and never counted.
 */
bool lurkd_peer_limit_acquire(enum lurkd_peer_count what, const struct lurkd_peer_key *key,
                              unsigned cap);
/* lurkd_peer_limit_release counts one less of what for key. */
void lurkd_peer_limit_release(enum lurkd_peer_count what, const struct lurkd_peer_key *key);
/* lurkd_peer_limit_peers is how many peers hold at least one of what (metrics, tests). */
size_t lurkd_peer_limit_peers(enum lurkd_peer_count what);

#endif
