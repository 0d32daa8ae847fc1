/*
 * DAOS error codes (negative DER_* values): their names for messages, and the
 * ps_status each maps to.
 */
#include <stdio.h>

#include "connectors/daos/daos_internal.h"
#include "core/internal.h"

const char *ps__daos_errname(const ps__daos_api *api, int rc)
{
    if (api && api->d_errstr) {
        const char *s = api->d_errstr(rc);
        if (s)
            return s;
    }
    switch (-rc) {
    case DER_NO_PERM:
        return "DER_NO_PERM";
    case DER_NO_HDL:
        return "DER_NO_HDL";
    case DER_INVAL:
        return "DER_INVAL";
    case DER_EXIST:
        return "DER_EXIST";
    case DER_NONEXIST:
        return "DER_NONEXIST";
    case DER_UNREACH:
        return "DER_UNREACH";
    case DER_NOSPACE:
        return "DER_NOSPACE";
    case DER_NOMEM:
        return "DER_NOMEM";
    case DER_TIMEDOUT:
        return "DER_TIMEDOUT";
    case DER_UNINIT:
        return "DER_UNINIT";
    case DER_IO:
        return "DER_IO";
    case DER_KEY2BIG:
        return "DER_KEY2BIG";
    case DER_REC2BIG:
        return "DER_REC2BIG";
    default:
        return "DER_?";
    }
}

static ps_status ps__daos_status(int rc)
{
    switch (-rc) {
    case DER_NO_PERM:
        return PS_EAUTH;
    case DER_NOMEM:
    case DER_FREE_MEM:
        return PS_ENOMEM;
    case DER_NONEXIST:
    case DER_ENOENT:
        return PS_NOT_FOUND;
    case DER_INVAL:
    case DER_NO_HDL:
    case DER_KEY2BIG:
    case DER_EXIST:
        return PS_EINVAL;
    case DER_UNREACH:
    case DER_HG:
    case DER_EXCLUDED:
    case DER_NO_SERVICE:
    case DER_AGENT_INCOMPAT:
    case DER_SHUTDOWN:
        return PS_ECONN;
    case DER_TIMEDOUT:
        return PS_ETIMEDOUT;
    case DER_NOSPACE:
        return PS_ENOSPC;
    case DER_NOSYS:
    case DER_NOTSUPPORTED:
        return PS_ENOTSUP;
    case DER_PROTO:
        return PS_EPROTO;
    case DER_UNINIT:
        return PS_ESTATE;
    default:
        return PS_EIO;
    }
}

ps_status ps__daos_fail(const ps__daos *d, int rc, const char *call, const char *key)
{
    return ps__seterr(ps__daos_status(rc), "daos %s/%s/%s: %s%s%s: %s (%d)", d->pool, d->cont,
                      d->ns, call, key ? " key " : "", key ? key : "", ps__daos_errname(d->api, rc),
                      rc);
}
