/*
 * The layer-spec grammar; see layerspec.h.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "error.h"
#include "layerspec.h"

enum { MAX_KERNEL = 64, MAX_PAD = 64 };

static const char *const ACT_NAMES[] = {"relu", "tanh", "leaky_relu", "elu", "softplus"};

/* One token of s[0, len) into t; 0 on a syntax error. */
static int parse_token(const char *s, size_t len, vaei_spec_token *t)
{
    memset(t, 0, sizeof *t);
    size_t i = 0;
    while (i < len && s[i] != ':') i++;
    if (i == 0 || i >= sizeof t->name) return 0;
    memcpy(t->name, s, i);
    while (i < len) {
        if (t->nv == 4 || s[i] != ':') return 0;
        i++;
        size_t v = 0, digits = 0;
        for (; i < len && s[i] >= '0' && s[i] <= '9' && digits < 9; i++, digits++)
            v = v * 10 + (size_t)(s[i] - '0');
        if (digits == 0 || (i < len && s[i] != ':')) return 0;
        t->v[t->nv++] = v;
    }
    return 1;
}

int vaei_spec_activation(const char *name)
{
    for (int a = 0; a < 5; a++)
        if (!strcmp(name, ACT_NAMES[a])) return a;
    return -1;
}

/* Arity of a layer or reshape token, -1 when the name is unknown. */
static int arity(const char *name)
{
    if (!strcmp(name, "dense")) return 1;
    if (!strcmp(name, "conv") || !strcmp(name, "deconv")) return 4;
    if (!strcmp(name, "reshape")) return 3;
    return vaei_spec_activation(name) >= 0 ? 0 : -1;
}

vae_status vaei_spec_each(const char *spec, vaei_spec_fn fn, void *ctx)
{
    const char *s = spec;
    while (*s) {
        const char *e = strchr(s, ',');
        const size_t len = e ? (size_t)(e - s) : strlen(s);
        vaei_spec_token t;
        VAEI_CHECK(parse_token(s, len, &t) && arity(t.name) == t.nv, VAE_ERR_INVALID_ARGUMENT,
                   "layer spec: cannot read \"%.*s\" (dense:N, conv:C:K:S:P, deconv:C:K:S:P, "
                   "reshape:C:H:W or an activation)", (int)len, s);
        for (int k = 0; k < t.nv; k++) {
            const int pad = k == 3;
            VAEI_CHECK(t.v[k] <= (pad ? MAX_PAD : t.nv == 4 && k ? MAX_KERNEL : VAEI_MAX_INPUT) &&
                           (pad || t.v[k] >= 1),
                       VAE_ERR_INVALID_ARGUMENT, "layer spec: \"%.*s\": number %d out of range",
                       (int)len, s, k + 1);
        }
        if (fn) VAEI_TRY(fn(ctx, &t));
        s = e ? e + 1 : s + len;
        VAEI_CHECK(!e || *s, VAE_ERR_INVALID_ARGUMENT, "layer spec ends with a comma");
    }
    return VAE_OK;
}

vae_status vaei_spec_check(const char *spec)
{
    VAEI_CHECK(strlen(spec) < VAEI_MAX_SPEC, VAE_ERR_INVALID_ARGUMENT,
               "layer spec is longer than %d bytes", VAEI_MAX_SPEC - 1);
    return vaei_spec_each(spec, NULL, NULL);
}
