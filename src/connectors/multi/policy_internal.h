/*
 * Policies, shared between policy.c and the multi connector. Not installed.
 */
#ifndef PS_MULTI_POLICY_INTERNAL_H
#define PS_MULTI_POLICY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "proxystore/connector.h"
#include "proxystore/connectors/multi.h"

/* The policy as a new JSON object (PolicyDict fields). */
ps_status ps__policy_to_jsonv(const ps_multi_policy *policy, json_t **out);

/*
 * Read a policy from a JSON object (borrowed). `what` names it in messages
 * ("multi connector entry \"fast\": policy").
 */
ps_status ps__policy_from_jsonv(const json_t *obj, const char *what, ps_multi_policy **out);

/*
 * Whether the policy accepts an object of `size` bytes put with the tags of
 * `opts` (NULL: no tags; both tag constraints are checked, as a put does).
 * The host is NOT checked here.
 */
bool ps__policy_accepts(const ps_multi_policy *policy, uint64_t size, const ps_put_options *opts);

/*
 * What a put without tags needs of the policy, for a router to cache: the
 * size range, and whether it has superset tags (then only a put carrying
 * those tags matches). With tags, ps__policy_accepts() decides.
 */
void ps__policy_put_rules(const ps_multi_policy *policy, uint64_t *min_size, uint64_t *max_size,
                          bool *superset);

#endif
