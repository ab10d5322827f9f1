/* fg_jwt.c - the identity assertion (compact JWS, EdDSA/Ed25519) and the JWKS that verifies it. */
#include "fg_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Serialises j compactly into the arena as base64url. Consumes (decrefs) j. */
static char *fg_json_b64(fg_arena_t *a, json_t *j)
{
    if (j == NULL)
        return NULL;
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (s == NULL)
        return NULL;
    char *b = fg_b64url_encode(a, (const unsigned char *)s, strlen(s));
    free(s);
    return b;
}

/* Serialises j compactly into the arena as plain text. Consumes (decrefs) j. */
static char *fg_json_text(fg_arena_t *a, json_t *j)
{
    if (j == NULL)
        return NULL;
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (s == NULL)
        return NULL;
    char *t = fg_arena_strdup(a, s);
    free(s);
    return t;
}

/* Adds a string member unless the value is NULL; returns -1 when the value is not UTF-8. */
static int fg_json_set_str(json_t *o, const char *key, const char *val)
{
    if (val == NULL)
        return 0;
    json_t *s = json_string(val);
    return s == NULL ? -1 : json_object_set_new(o, key, s);
}

static json_t *fg_jwt_claims(const fg_claims_t *c)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    int rc = 0;
    rc |= fg_json_set_str(o, "iss", c->iss);
    rc |= fg_json_set_str(o, "aud", c->aud);
    rc |= fg_json_set_str(o, "sub", c->sub);
    rc |= fg_json_set_str(o, "name", c->name);
    rc |= json_object_set_new(o, "auth_time", json_integer((json_int_t)c->auth_time));
    rc |= json_object_set_new(o, "iat", json_integer((json_int_t)c->iat));
    rc |= json_object_set_new(o, "exp", json_integer((json_int_t)c->exp));
    rc |= json_object_set_new(o, "amr", json_pack("[ss]", "pwd", "app"));
    rc |= fg_json_set_str(o, "sid", c->sid);
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Signs claims c with the active key of k. Returns the compact JWS
 * "b64url(header).b64url(payload).b64url(signature)" in arena a, or NULL on OOM, missing
 * key/sub, or a claim string that is not valid UTF-8. NULL string claims are omitted. */
char *fg_jwt_sign(fg_arena_t *a, const fg_keyring_t *k, const fg_claims_t *c)
{
    if (k == NULL || k->n == 0 || c == NULL || c->sub == NULL)
        return NULL;
    const fg_key_t *key = &k->keys[0];
    char *h = fg_json_b64(a, json_pack("{ssssss}", "alg", "EdDSA", "typ", "JWT", "kid", key->kid));
    char *p = fg_json_b64(a, fg_jwt_claims(c));
    if (h == NULL || p == NULL)
        return NULL;
    char *input = fg_arena_printf(a, "%s.%s", h, p);
    if (input == NULL)
        return NULL;
    unsigned char sig[crypto_sign_BYTES];
    crypto_sign_detached(sig, NULL, (const unsigned char *)input, strlen(input), key->sign_sk);
    char *s = fg_b64url_encode(a, sig, sizeof sig);
    return s ? fg_arena_printf(a, "%s.%s", input, s) : NULL;
}

/* The JSON Web Key Set (RFC 8037 OKP keys) of every key in k, active key first, as a
 * compact JSON string in arena a; NULL on OOM. */
char *fg_jwks_json(fg_arena_t *a, const fg_keyring_t *k)
{
    if (k == NULL)
        return NULL;
    json_t *keys = json_array();
    for (size_t i = 0; keys != NULL && i < k->n; i++) {
        char *x = fg_b64url_encode(a, k->keys[i].sign_pk, sizeof k->keys[i].sign_pk);
        json_t *jwk = x ? json_pack("{ssssssssssss}", "kty", "OKP", "crv", "Ed25519", "x", x,
                                    "kid", k->keys[i].kid, "use", "sig", "alg", "EdDSA")
                        : NULL;
        if (jwk == NULL || json_array_append_new(keys, jwk) != 0) {
            json_decref(keys);
            return NULL;
        }
    }
    return keys ? fg_json_text(a, json_pack("{so}", "keys", keys)) : NULL;
}
