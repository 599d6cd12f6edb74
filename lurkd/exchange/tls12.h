/* Checks shared by the tls12 exchanges (draft-mglt-lurk-tls12-05 §4.4). */
#ifndef LURKD_EXCHANGE_TLS12_H
#define LURKD_EXCHANGE_TLS12_H

#include <stdint.h>

#include "exchange/exchange.h"

/*
 * §4.4 steps 2, 4, 5: the freshness function must be supported (null only
 * when the key's policy allows it), S's gmt_unix_time must be in the key's
 * window (when check_time is on), and ServerHello.random is derived from S.
 * Returns success or the tls12 status to answer.
 */
uint8_t lurkd_tls12_server_random(struct lurkd_request *req, const struct lurkd_key *key,
                                  uint8_t freshness_funct, const uint8_t s[LURK_RANDOM_LEN],
                                  uint8_t server_hello_random[LURK_RANDOM_LEN]);

#endif
