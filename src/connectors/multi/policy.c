/*
 * Policies of the multi connector (upstream's proxystore.connectors.multi.
 * Policy). See include/proxystore/connectors/multi.h for the contract.
 *
 * Host patterns are compiled once with PCRE2, anchored at both ends
 * (PCRE2_ANCHORED | PCRE2_ENDANCHORED), which gives Python's re.fullmatch:
 * the whole host name must match, and alternatives are retried until one
 * ends at the end of the name. PCRE2 allocates through the library's
 * allocator hooks (a general context over ps_malloc/ps_free).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>

#include "connectors/multi/policy_internal.h"
#include "core/internal.h"

/* Longest host name we look at (POSIX HOST_NAME_MAX is 255). */
#define PS__HOSTNAME_MAX 256

struct ps_multi_policy {
    int64_t priority;
    bool has_hosts; /* false: no constraint; true: `hosts` (may be empty) */
    size_t n_hosts;
    char **hosts;
    pcre2_code **host_re;
    uint64_t min_size;
    uint64_t max_size;
    size_t n_subset;
    char **subset;
    size_t n_superset;
    char **superset;
};

/* ---- PCRE2 through our allocator ---------------------------------------------- */

static void *ps__pcre_malloc(PCRE2_SIZE size, void *data)
{
    (void)data;
    return ps_malloc(size);
}

static void ps__pcre_free(void *ptr, void *data)
{
    (void)data;
    ps_free(ptr);
}

/* Compile one pattern; PS_EINVAL with PCRE2's message and offset. */
static ps_status ps__compile(const char *pattern, pcre2_code **out)
{
    *out = NULL;
    pcre2_general_context *gc = pcre2_general_context_create(ps__pcre_malloc, ps__pcre_free, NULL);
    if (gc == NULL)
        return PS__ENOMEM("regex context");
    pcre2_compile_context *cc = pcre2_compile_context_create(gc);
    if (cc == NULL) {
        pcre2_general_context_free(gc);
        return PS__ENOMEM("regex context");
    }
    int err = 0;
    PCRE2_SIZE off = 0;
    pcre2_code *re =
        pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                      PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_UTF | PCRE2_UCP, &err, &off, cc);
    pcre2_compile_context_free(cc);
    pcre2_general_context_free(gc);
    if (re == NULL) {
        if (err == PCRE2_ERROR_HEAP_FAILED || err == PCRE2_ERROR_NOMEMORY)
            return ps__seterr(PS_ENOMEM, "out of memory compiling host_pattern \"%.200s\"",
                              pattern);
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(err, msg, sizeof msg) < 0)
            strcpy((char *)msg, "unknown error");
        return ps__seterr(PS_EINVAL, "invalid host_pattern \"%.200s\": %s at offset %zu", pattern,
                          (const char *)msg, (size_t)off);
    }
    *out = re;
    return PS_OK;
}

/* Whether `subject` fully matches `re`; PS_ENOMEM or PS_EINTERNAL on failure. */
static ps_status ps__fullmatch(const pcre2_code *re, const char *pattern, const char *subject,
                               bool *match)
{
    *match = false;
    pcre2_general_context *gc = pcre2_general_context_create(ps__pcre_malloc, ps__pcre_free, NULL);
    if (gc == NULL)
        return PS__ENOMEM("regex match");
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, gc);
    pcre2_general_context_free(gc);
    if (md == NULL)
        return PS__ENOMEM("regex match");
    int rc = pcre2_match(re, (PCRE2_SPTR)subject, strlen(subject), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    if (rc >= 0) {
        *match = true;
        return PS_OK;
    }
    if (rc == PCRE2_ERROR_NOMATCH)
        return PS_OK;
    if (rc == PCRE2_ERROR_NOMEMORY)
        return PS__ENOMEM("regex match");
    PCRE2_UCHAR msg[256];
    if (pcre2_get_error_message(rc, msg, sizeof msg) < 0)
        strcpy((char *)msg, "unknown error");
    /* e.g. a host name that is not valid UTF-8: it cannot match. */
    if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21)
        return PS_OK;
    return ps__seterr(PS_EINTERNAL, "policy: matching host \"%.200s\" against \"%.200s\": %s",
                      subject, pattern, (const char *)msg);
}

/* ---- string lists ------------------------------------------------------------- */

static void ps__strv_free(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        ps_free(v[i]);
    ps_free(v);
}

static ps_status ps__strv_append(char ***v, size_t *n, const char *s)
{
    char *copy = ps_strdup(s);
    if (copy == NULL)
        return PS__ENOMEM("policy tag");
    char **nv = ps_realloc(*v, (*n + 1) * sizeof *nv);
    if (nv == NULL) {
        ps_free(copy);
        return PS__ENOMEM("policy tag list");
    }
    nv[(*n)++] = copy;
    *v = nv;
    return PS_OK;
}

static bool ps__strv_contains(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static bool ps__strv_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return true;
}

static void ps__hosts_free(char **hosts, pcre2_code **re, size_t n)
{
    if (re) {
        for (size_t i = 0; i < n; i++)
            pcre2_code_free(re[i]);
        ps_free(re);
    }
    ps__strv_free(hosts, n);
}

/* ---- life cycle ------------------------------------------------------------------ */

ps_status ps_multi_policy_new(ps_multi_policy **out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_multi_policy_new: out is NULL");
    ps_multi_policy *p = ps_calloc(1, sizeof *p);
    if (p == NULL) {
        *out = NULL;
        return PS__ENOMEM("policy");
    }
    p->max_size = (uint64_t)PS_MULTI_POLICY_MAX_SIZE;
    *out = p;
    return PS_OK;
}

void ps_multi_policy_free(ps_multi_policy *p)
{
    if (p == NULL)
        return;
    ps__hosts_free(p->hosts, p->host_re, p->n_hosts);
    ps__strv_free(p->subset, p->n_subset);
    ps__strv_free(p->superset, p->n_superset);
    ps_free(p);
}

ps_status ps_multi_policy_dup(const ps_multi_policy *policy, ps_multi_policy **out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_multi_policy_dup: out is NULL");
    *out = NULL;
    PS__RETURN_IF(policy == NULL, PS_EINVAL, "ps_multi_policy_dup: policy is NULL");
    ps_multi_policy *p;
    PS__FORWARD(ps_multi_policy_new(&p));
    p->priority = policy->priority;
    p->min_size = policy->min_size;
    p->max_size = policy->max_size;
    ps_status st = PS_OK;
    if (policy->has_hosts)
        st = ps_multi_policy_set_host_patterns(p, (const char *const *)policy->hosts,
                                               policy->n_hosts);
    for (size_t i = 0; st == PS_OK && i < policy->n_subset; i++)
        st = ps__strv_append(&p->subset, &p->n_subset, policy->subset[i]);
    for (size_t i = 0; st == PS_OK && i < policy->n_superset; i++)
        st = ps__strv_append(&p->superset, &p->n_superset, policy->superset[i]);
    if (st != PS_OK) {
        ps_multi_policy_free(p);
        return st;
    }
    *out = p;
    return PS_OK;
}

/* ---- setters ------------------------------------------------------------------------ */

ps_status ps_multi_policy_set_priority(ps_multi_policy *policy, int64_t priority)
{
    PS__RETURN_IF(policy == NULL, PS_EINVAL, "ps_multi_policy_set_priority: policy is NULL");
    policy->priority = priority;
    return PS_OK;
}

ps_status ps_multi_policy_set_size_bounds(ps_multi_policy *policy, uint64_t min_size_bytes,
                                          uint64_t max_size_bytes)
{
    PS__RETURN_IF(policy == NULL, PS_EINVAL, "ps_multi_policy_set_size_bounds: policy is NULL");
    PS__RETURN_IF(min_size_bytes > (uint64_t)PS_MULTI_POLICY_MAX_SIZE ||
                      max_size_bytes > (uint64_t)PS_MULTI_POLICY_MAX_SIZE,
                  PS_EINVAL, "policy: size bounds must be at most %lld bytes (got %llu, %llu)",
                  (long long)PS_MULTI_POLICY_MAX_SIZE, (unsigned long long)min_size_bytes,
                  (unsigned long long)max_size_bytes);
    policy->min_size = min_size_bytes;
    policy->max_size = max_size_bytes;
    return PS_OK;
}

ps_status ps_multi_policy_set_host_patterns(ps_multi_policy *policy, const char *const *patterns,
                                            size_t n)
{
    PS__RETURN_IF(policy == NULL, PS_EINVAL, "ps_multi_policy_set_host_patterns: policy is NULL");
    PS__RETURN_IF(patterns == NULL && n > 0, PS_EINVAL,
                  "ps_multi_policy_set_host_patterns: patterns is NULL but n is %zu", n);
    for (size_t i = 0; i < n; i++)
        PS__RETURN_IF(patterns[i] == NULL, PS_EINVAL,
                      "ps_multi_policy_set_host_patterns: pattern %zu is NULL", i);
    char **hosts = NULL;
    pcre2_code **re = NULL;
    size_t count = 0;
    if (n > 0) {
        hosts = ps_calloc(n, sizeof *hosts);
        re = ps_calloc(n, sizeof *re);
        if (hosts == NULL || re == NULL) {
            ps_free(hosts);
            ps_free(re);
            return PS__ENOMEM("host patterns");
        }
    }
    ps_status st = PS_OK;
    for (; count < n; count++) {
        hosts[count] = ps_strdup(patterns[count]);
        if (hosts[count] == NULL) {
            st = PS__ENOMEM("host pattern");
            break;
        }
        st = ps__compile(patterns[count], &re[count]);
        if (st != PS_OK) {
            count++; /* free this slot's copy too */
            break;
        }
    }
    if (st != PS_OK) {
        ps__hosts_free(hosts, re, count);
        return st;
    }
    ps__hosts_free(policy->hosts, policy->host_re, policy->n_hosts);
    policy->hosts = hosts;
    policy->host_re = re;
    policy->n_hosts = n;
    policy->has_hosts = patterns != NULL;
    return PS_OK;
}

ps_status ps_multi_policy_add_host_pattern(ps_multi_policy *policy, const char *pattern)
{
    PS__RETURN_IF(policy == NULL, PS_EINVAL, "ps_multi_policy_add_host_pattern: policy is NULL");
    PS__RETURN_IF(pattern == NULL, PS_EINVAL, "ps_multi_policy_add_host_pattern: pattern is NULL");
    pcre2_code *re;
    PS__FORWARD(ps__compile(pattern, &re));
    pcre2_code **nre = ps_realloc(policy->host_re, (policy->n_hosts + 1) * sizeof *nre);
    if (nre == NULL) {
        pcre2_code_free(re);
        return PS__ENOMEM("host patterns");
    }
    policy->host_re = nre;
    size_t n = policy->n_hosts;
    ps_status st = ps__strv_append(&policy->hosts, &n, pattern);
    if (st != PS_OK) {
        pcre2_code_free(re);
        return st;
    }
    policy->host_re[policy->n_hosts++] = re;
    policy->has_hosts = true;
    return PS_OK;
}

ps_status ps_multi_policy_add_subset_tag(ps_multi_policy *policy, const char *tag)
{
    PS__RETURN_IF(policy == NULL || tag == NULL, PS_EINVAL,
                  "ps_multi_policy_add_subset_tag: policy or tag is NULL");
    return ps__strv_append(&policy->subset, &policy->n_subset, tag);
}

ps_status ps_multi_policy_add_superset_tag(ps_multi_policy *policy, const char *tag)
{
    PS__RETURN_IF(policy == NULL || tag == NULL, PS_EINVAL,
                  "ps_multi_policy_add_superset_tag: policy or tag is NULL");
    return ps__strv_append(&policy->superset, &policy->n_superset, tag);
}

/* ---- getters ------------------------------------------------------------------------- */

int64_t ps_multi_policy_priority(const ps_multi_policy *p)
{
    return p ? p->priority : 0;
}

uint64_t ps_multi_policy_min_size(const ps_multi_policy *p)
{
    return p ? p->min_size : 0;
}

uint64_t ps_multi_policy_max_size(const ps_multi_policy *p)
{
    return p ? p->max_size : 0;
}

bool ps_multi_policy_has_host_patterns(const ps_multi_policy *p)
{
    return p && p->has_hosts;
}

size_t ps_multi_policy_host_pattern_count(const ps_multi_policy *p)
{
    return p ? p->n_hosts : 0;
}

const char *ps_multi_policy_host_pattern(const ps_multi_policy *p, size_t i)
{
    return (p && i < p->n_hosts) ? p->hosts[i] : NULL;
}

size_t ps_multi_policy_subset_tag_count(const ps_multi_policy *p)
{
    return p ? p->n_subset : 0;
}

const char *ps_multi_policy_subset_tag(const ps_multi_policy *p, size_t i)
{
    return (p && i < p->n_subset) ? p->subset[i] : NULL;
}

size_t ps_multi_policy_superset_tag_count(const ps_multi_policy *p)
{
    return p ? p->n_superset : 0;
}

const char *ps_multi_policy_superset_tag(const ps_multi_policy *p, size_t i)
{
    return (p && i < p->n_superset) ? p->superset[i] : NULL;
}

/* ---- checks ---------------------------------------------------------------------------- */

ps_status ps_multi_policy_matches_host(const ps_multi_policy *policy, const char *hostname,
                                       bool *valid)
{
    PS__RETURN_IF(valid == NULL, PS_EINVAL, "ps_multi_policy_matches_host: valid is NULL");
    *valid = false;
    PS__RETURN_IF(policy == NULL || hostname == NULL, PS_EINVAL,
                  "ps_multi_policy_matches_host: policy or hostname is NULL");
    if (!policy->has_hosts) {
        *valid = true;
        return PS_OK;
    }
    for (size_t i = 0; i < policy->n_hosts; i++) {
        bool m;
        PS__FORWARD(ps__fullmatch(policy->host_re[i], policy->hosts[i], hostname, &m));
        if (m) {
            *valid = true;
            return PS_OK;
        }
    }
    return PS_OK;
}

ps_status ps_multi_policy_is_valid_on_host(const ps_multi_policy *policy, bool *valid)
{
    PS__RETURN_IF(valid == NULL, PS_EINVAL, "ps_multi_policy_is_valid_on_host: valid is NULL");
    *valid = false;
    PS__RETURN_IF(policy == NULL, PS_EINVAL, "ps_multi_policy_is_valid_on_host: policy is NULL");
    if (!policy->has_hosts) {
        *valid = true;
        return PS_OK;
    }
    char host[PS__HOSTNAME_MAX];
    PS__FORWARD(ps_hostname(host, sizeof host));
    return ps_multi_policy_matches_host(policy, host, valid);
}

static bool ps__subset_ok(const ps_multi_policy *p, const char *const *tags, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!ps__strv_contains(p->subset, p->n_subset, tags[i]))
            return false;
    return true;
}

static bool ps__superset_ok(const ps_multi_policy *p, const char *const *tags, size_t n)
{
    for (size_t i = 0; i < p->n_superset; i++) {
        bool found = false;
        for (size_t j = 0; j < n && !found; j++)
            found = strcmp(tags[j], p->superset[i]) == 0;
        if (!found)
            return false;
    }
    return true;
}

static ps_status ps__check_tag_list(const ps_multi_tag_list *l, const char *what)
{
    if (l == NULL)
        return PS_OK;
    PS__RETURN_IF(l->n > 0 && l->tags == NULL, PS_EINVAL,
                  "ps_multi_policy_is_valid: %s tags is NULL", what);
    for (size_t i = 0; i < l->n; i++)
        PS__RETURN_IF(l->tags[i] == NULL, PS_EINVAL, "ps_multi_policy_is_valid: %s tag %zu is NULL",
                      what, i);
    return PS_OK;
}

ps_status ps_multi_policy_is_valid(const ps_multi_policy *policy, const uint64_t *size_bytes,
                                   const ps_multi_tag_list *subset_tags,
                                   const ps_multi_tag_list *superset_tags, bool *valid)
{
    PS__RETURN_IF(valid == NULL, PS_EINVAL, "ps_multi_policy_is_valid: valid is NULL");
    *valid = false;
    PS__RETURN_IF(policy == NULL, PS_EINVAL, "ps_multi_policy_is_valid: policy is NULL");
    PS__FORWARD(ps__check_tag_list(subset_tags, "subset"));
    PS__FORWARD(ps__check_tag_list(superset_tags, "superset"));
    if (size_bytes && (*size_bytes < policy->min_size || *size_bytes > policy->max_size))
        return PS_OK;
    if (subset_tags && !ps__subset_ok(policy, subset_tags->tags, subset_tags->n))
        return PS_OK;
    if (superset_tags && !ps__superset_ok(policy, superset_tags->tags, superset_tags->n))
        return PS_OK;
    return ps_multi_policy_is_valid_on_host(policy, valid);
}

bool ps__policy_accepts(const ps_multi_policy *p, uint64_t size, const ps_put_options *opts)
{
    if (size < p->min_size || size > p->max_size)
        return false;
    const char *const *sub = opts ? opts->subset_tags : NULL;
    const char *const *sup = opts ? opts->superset_tags : NULL;
    return ps__subset_ok(p, sub, opts ? opts->n_subset_tags : 0) &&
           ps__superset_ok(p, sup, opts ? opts->n_superset_tags : 0);
}

void ps__policy_put_rules(const ps_multi_policy *p, uint64_t *min_size, uint64_t *max_size,
                          bool *superset)
{
    *min_size = p->min_size;
    *max_size = p->max_size;
    *superset = p->n_superset > 0;
}

bool ps_multi_policy_equal(const ps_multi_policy *a, const ps_multi_policy *b)
{
    if (a == NULL || b == NULL)
        return false;
    return a->priority == b->priority && a->has_hosts == b->has_hosts &&
           ps__strv_equal(a->hosts, a->n_hosts, b->hosts, b->n_hosts) &&
           a->min_size == b->min_size && a->max_size == b->max_size &&
           ps__strv_equal(a->subset, a->n_subset, b->subset, b->n_subset) &&
           ps__strv_equal(a->superset, a->n_superset, b->superset, b->n_superset);
}

/* ---- JSON ------------------------------------------------------------------------------ */

static json_t *ps__strv_json(char *const *v, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        if (json_array_append_new(arr, json_string(v[i])) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

ps_status ps__policy_to_jsonv(const ps_multi_policy *p, json_t **out)
{
    *out = NULL;
    json_t *hosts = p->has_hosts ? ps__strv_json(p->hosts, p->n_hosts) : json_null();
    json_t *sub = ps__strv_json(p->subset, p->n_subset);
    json_t *sup = ps__strv_json(p->superset, p->n_superset);
    json_t *obj = NULL;
    if (hosts && sub && sup)
        obj = json_pack("{s:I, s:O, s:I, s:I, s:O, s:O}", "priority", (json_int_t)p->priority,
                        "host_pattern", hosts, "min_size_bytes", (json_int_t)p->min_size,
                        "max_size_bytes", (json_int_t)p->max_size, "subset_tags", sub,
                        "superset_tags", sup);
    json_decref(hosts);
    json_decref(sub);
    json_decref(sup);
    if (obj == NULL)
        return PS__ENOMEM("policy JSON");
    *out = obj;
    return PS_OK;
}

/* Read a JSON array of strings into `p` with `add`. */
static ps_status ps__read_tags(const json_t *arr, const char *what, const char *field,
                               ps_multi_policy *p,
                               ps_status (*add)(ps_multi_policy *, const char *))
{
    PS__RETURN_IF(!json_is_array(arr), PS_EINVAL, "%s: \"%s\" must be a list of strings", what,
                  field);
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
        PS__RETURN_IF(!json_is_string(v), PS_EINVAL, "%s: \"%s\" item %zu is not a string", what,
                      field, i);
        PS__FORWARD(add(p, json_string_value(v)));
    }
    return PS_OK;
}

static ps_status ps__read_size(const json_t *obj, const char *what, const char *field,
                               uint64_t *out)
{
    const json_t *v = json_object_get(obj, field);
    if (v == NULL)
        return PS_OK;
    PS__RETURN_IF(!json_is_integer(v), PS_EINVAL, "%s: \"%s\" must be an integer", what, field);
    json_int_t n = json_integer_value(v);
    PS__RETURN_IF(n < 0, PS_EINVAL, "%s: \"%s\" must not be negative (got %lld)", what, field,
                  (long long)n);
    *out = (uint64_t)n;
    return PS_OK;
}

static ps_status ps__policy_fill(ps_multi_policy *p, const json_t *obj, const char *what)
{
    static const char *const fields[] = {"priority",
                                         "host_pattern",
                                         "min_size_bytes",
                                         "max_size_bytes",
                                         "subset_tags",
                                         "superset_tags",
                                         NULL};
    PS__FORWARD(ps__json_check_fields(obj, what, fields));
    const json_t *v = json_object_get(obj, "priority");
    if (v != NULL) {
        PS__RETURN_IF(!json_is_integer(v), PS_EINVAL, "%s: \"priority\" must be an integer", what);
        p->priority = (int64_t)json_integer_value(v);
    }
    v = json_object_get(obj, "host_pattern");
    if (v != NULL && !json_is_null(v)) {
        ps_status st;
        if (json_is_string(v)) {
            st = ps_multi_policy_add_host_pattern(p, json_string_value(v));
        } else {
            static const char *const empty_list[1] = {NULL};
            PS__FORWARD(ps_multi_policy_set_host_patterns(p, empty_list, 0));
            st = ps__read_tags(v, what, "host_pattern", p, ps_multi_policy_add_host_pattern);
        }
        if (st != PS_OK)
            return ps__preferr(st, "%s", what);
    }
    uint64_t lo = p->min_size, hi = p->max_size;
    PS__FORWARD(ps__read_size(obj, what, "min_size_bytes", &lo));
    PS__FORWARD(ps__read_size(obj, what, "max_size_bytes", &hi));
    p->min_size = lo;
    p->max_size = hi;
    v = json_object_get(obj, "subset_tags");
    if (v != NULL)
        PS__FORWARD(ps__read_tags(v, what, "subset_tags", p, ps_multi_policy_add_subset_tag));
    v = json_object_get(obj, "superset_tags");
    if (v != NULL)
        PS__FORWARD(ps__read_tags(v, what, "superset_tags", p, ps_multi_policy_add_superset_tag));
    return PS_OK;
}

ps_status ps__policy_from_jsonv(const json_t *obj, const char *what, ps_multi_policy **out)
{
    *out = NULL;
    PS__RETURN_IF(!json_is_object(obj), PS_EINVAL, "%s: expected a JSON object", what);
    ps_multi_policy *p;
    PS__FORWARD(ps_multi_policy_new(&p));
    ps_status st = ps__policy_fill(p, obj, what);
    if (st != PS_OK) {
        ps_multi_policy_free(p);
        return st;
    }
    *out = p;
    return PS_OK;
}

ps_status ps_multi_policy_to_json(const ps_multi_policy *policy, char **json)
{
    PS__RETURN_IF(json == NULL, PS_EINVAL, "ps_multi_policy_to_json: out is NULL");
    *json = NULL;
    PS__RETURN_IF(policy == NULL, PS_EINVAL, "ps_multi_policy_to_json: policy is NULL");
    json_t *obj;
    PS__FORWARD(ps__policy_to_jsonv(policy, &obj));
    ps_status st = ps__json_dump(obj, json);
    json_decref(obj);
    return st;
}

ps_status ps_multi_policy_from_json(const char *json, ps_multi_policy **out)
{
    PS__RETURN_IF(out == NULL, PS_EINVAL, "ps_multi_policy_from_json: out is NULL");
    *out = NULL;
    PS__RETURN_IF(json == NULL, PS_EINVAL, "ps_multi_policy_from_json: json is NULL");
    json_t *obj;
    PS__FORWARD(ps__json_parse_object(json, "policy", &obj));
    ps_status st = ps__policy_from_jsonv(obj, "policy", out);
    json_decref(obj);
    return st;
}
