/*
 * The set of keys a redis connector instance wrote (16-byte UUIDs), for
 * close(clear): open addressing, linear probing, removal by backward
 * shifting (no tombstones).
 */
#include <string.h>

#include "connectors/redis/redis_internal.h"

static size_t ks_home(const ps__redis_keyset *s, const ps__redis_uuid *u)
{
    return (size_t)ps__hash64(u->b, sizeof u->b) & (s->cap - 1);
}

static bool ks_find(const ps__redis_keyset *s, const ps__redis_uuid *u, size_t *at)
{
    if (s->cap == 0)
        return false;
    for (size_t i = ks_home(s, u);; i = (i + 1) & (s->cap - 1)) {
        if (!s->used[i])
            return false;
        if (memcmp(s->slots[i].b, u->b, 16) == 0) {
            *at = i;
            return true;
        }
    }
}

static void ks_place(ps__redis_keyset *s, const ps__redis_uuid *u)
{
    size_t i = ks_home(s, u);
    while (s->used[i])
        i = (i + 1) & (s->cap - 1);
    s->slots[i] = *u;
    s->used[i] = 1;
    s->n++;
}

static ps_status ks_grow(ps__redis_keyset *s)
{
    size_t cap = s->cap ? s->cap * 2 : 64;
    ps__redis_keyset t = {ps_calloc(cap, sizeof(ps__redis_uuid)), ps_calloc(cap, 1), cap, 0};
    if (t.slots == NULL || t.used == NULL) {
        ps_free(t.slots);
        ps_free(t.used);
        return PS__ENOMEM("redis: set of written keys");
    }
    for (size_t i = 0; i < s->cap; i++)
        if (s->used[i])
            ks_place(&t, &s->slots[i]);
    ps_free(s->slots);
    ps_free(s->used);
    *s = t;
    return PS_OK;
}

ps_status ps__redis_keyset_add(ps__redis_keyset *s, const ps__redis_uuid *u)
{
    size_t at;
    if (ks_find(s, u, &at))
        return PS_OK;
    if ((s->n + 1) * 4 > s->cap * 3)
        PS__FORWARD(ks_grow(s));
    ks_place(s, u);
    return PS_OK;
}

void ps__redis_keyset_remove(ps__redis_keyset *s, const ps__redis_uuid *u)
{
    size_t i;
    if (!ks_find(s, u, &i))
        return;
    size_t mask = s->cap - 1;
    for (size_t j = (i + 1) & mask; s->used[j]; j = (j + 1) & mask) {
        size_t k = ks_home(s, &s->slots[j]);
        /* Move j into the hole at i unless its home lies cyclically in (i, j]. */
        bool stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
        if (!stays) {
            s->slots[i] = s->slots[j];
            i = j;
        }
    }
    s->used[i] = 0;
    s->n--;
}

void ps__redis_keyset_free(ps__redis_keyset *s)
{
    ps_free(s->slots);
    ps_free(s->used);
    memset(s, 0, sizeof *s);
}

size_t ps__redis_keyset_text(const ps__redis_keyset *s, char *text, const char **ids)
{
    size_t k = 0;
    for (size_t i = 0; i < s->cap; i++) {
        if (s->used[i]) {
            ids[k] = text + k * (PS__REDIS_UUID_LEN + 1);
            ps__uuid_format(s->slots[i].b, text + k * (PS__REDIS_UUID_LEN + 1));
            k++;
        }
    }
    return k;
}
