/*
 * PSK_DB (draft-mglt-lurk-tls13-01 §9.1): the PSKs a tls13 exchange may
 * name in its psk_id extension (§3.4.2).
 *
 * - External PSKs come from the [psk.NAME] sections of the configuration
 *   in force; their clients setting says which peers may use them.
 * - Resumption PSKs are made by the exchanges: new_session_ticket on the
 *   server role (lurkd issues the NewSessionTicket), register_session_ticket
 *   on the client role (the LURK client registers the tickets its TLS
 *   server sent). Each is bound to the role that made it and to the peer
 *   identity that made it, lives for its ticket_lifetime, and on the
 *   server role is used once (-01 §6: "the limitation to a single re-use
 *   of the NewSessionTicket"). They survive configuration reloads; the
 *   store holds at most [tls13] psk_db_size of them, dropping the oldest.
 *
 * Secrets are copied out to the caller, who wipes them; the store wipes
 * its own on removal and at exit.
 */
#ifndef LURKD_TLS13_PSK_DB_H
#define LURKD_TLS13_PSK_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config_tls13.h"
#include "conf/runtime.h"
#include "tls13/session.h"

/* A PSK found for one exchange. */
struct lurkd_psk {
    uint8_t key[LURKD_PSK_MAX_LEN];
    size_t key_len;
    const char *md_name;     /* "SHA256" or "SHA384" */
    bool resumption;         /* binder_key label "res binder" (else "ext binder") */
    bool null_freshness;     /* freshness null allowed in sessions on it */
    uint32_t max_early_data; /* 0: no 0-RTT on this PSK */
    bool ticket;             /* a resumption PSK of the store (not a [psk.NAME]) */
    uint32_t ticket_age_add;
    uint64_t age_ms; /* ticket: time since it was issued or registered */
    char name[64];   /* for the audit log: the section name, or "ticket" */
};

/*
 * Looks identity up for peer on role. On the server role a ticket is
 * removed as it is found (single use, whatever the exchange then decides).
 * False when there is no such PSK for this peer, or it expired.
 */
bool lurkd_psk_find(const struct lurkd_runtime *rt, const struct lurkd_peer *peer, uint8_t role,
                    const uint8_t *identity, size_t identity_len, struct lurkd_psk *out);

/* A new resumption PSK (copying identity and key). False when out of memory. */
struct lurkd_psk_ticket {
    uint8_t role;
    const struct lurkd_tls13_owner *owner;
    const uint8_t *identity; /* NewSessionTicket.ticket */
    size_t identity_len;
    const uint8_t *key; /* HKDF-Expand-Label(resumption_master_secret, "resumption", nonce) */
    size_t key_len;
    const char *md_name;
    bool null_freshness;
    uint32_t lifetime; /* seconds */
    uint32_t ticket_age_add;
    uint32_t max_early_data;
};
bool lurkd_psk_store(const struct lurkd_runtime *rt, const struct lurkd_psk_ticket *t);

#endif
