/* Designation lurk: capabilities (lurk-lurk §6); ping is lurkd_ex_ping. */
#include "exchange/exchange.h"

#include <string.h>

#include "lurk/lurk.h"
#include "ops/metrics_gauges.h"

uint8_t lurkd_ex_lurk_capabilities(struct lurkd_request *req, lurk_cbb *out)
{
    struct lurk_capabilities_response caps = {
        .extensions = {{LURK_DESIGNATION_LURK, LURK_VERSION},
                       {LURK_DESIGNATION_TLS12, LURK_VERSION},
                       {LURK_DESIGNATION_TLS13, LURK_VERSION}},
        .n_extensions = 3,
    };

    if (lurk_empty_payload_decode(&req->payload) != LURK_STATUS_SUCCESS)
        return LURK_STATUS_INVALID_FORMAT;
    memcpy(caps.state, req->rt->state, LURK_STATE_LEN);
    return lurk_capabilities_response_encode(out, &caps) ? LURK_STATUS_SUCCESS
                                                         : LURK_STATUS_UNDEFINED_ERROR;
}

/* lurk stats (project type 128, protocol.md): the metrics as Prometheus text. */
uint8_t lurkd_ex_lurk_stats(struct lurkd_request *req, lurk_cbb *out)
{
    struct lurkd_gauges gauges;
    bool ok;

    if (lurk_empty_payload_decode(&req->payload) != LURK_STATUS_SUCCESS)
        return LURK_STATUS_INVALID_FORMAT;
    /* A project status for a project type: the operator must learn what to change (protocol.md). */
    if (!lurkd_policy_stats(req->rt->cfg, req->peer))
        return LURK_STATUS_NOT_ALLOWED;
    lurkd_metrics_gauges_read(&gauges, req->rt);
    ok = lurkd_metrics_render(out, &gauges);
    lurkd_metrics_gauges_clear(&gauges);
    return ok ? LURK_STATUS_SUCCESS : LURK_STATUS_UNDEFINED_ERROR;
}
