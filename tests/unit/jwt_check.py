#!/usr/bin/python3
"""jwt_check.py - verifies a Freigabe assertion with PyJWT (an independent implementation).

Usage: jwt_check.py JWT JWKS_JSON [AUDIENCE [ISSUER]]
Exit 0 and print the claims as JSON when the signature (EdDSA, key chosen by kid from the
JWKS) and the registered claims are valid; exit 1 with a message otherwise; exit 77 when
PyJWT is not installed (the caller skips the check).
"""
import json
import sys

try:
    import jwt
    from jwt import PyJWKSet
except ImportError:
    print("PyJWT not installed", file=sys.stderr)
    sys.exit(77)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    token, jwks = argv[1], json.loads(argv[2])
    audience = argv[3] if len(argv) > 3 else None
    issuer = argv[4] if len(argv) > 4 else None
    header = jwt.get_unverified_header(token)
    keys = {k.key_id: k for k in PyJWKSet.from_dict(jwks).keys}
    if header.get("kid") not in keys:
        print("unknown kid %r" % header.get("kid"), file=sys.stderr)
        return 1
    try:
        claims = jwt.decode(token, keys[header["kid"]].key, algorithms=["EdDSA"],
                            audience=audience, issuer=issuer,
                            options={"require": ["exp", "iat", "sub"],
                                     "verify_aud": audience is not None})
    except jwt.PyJWTError as e:
        print("invalid: %s" % e, file=sys.stderr)
        return 1
    print(json.dumps(claims, ensure_ascii=False, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
