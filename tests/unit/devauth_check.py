#!/usr/bin/python3
"""devauth_check.py - checks the device-signature vectors with PyNaCl (an independent implementation).

Usage: devauth_check.py VECTORS_JSON
For every case: rebuilds the signed message of product.md section 3 from method, path,
ts, nonce and body, compares it with the stored message, re-signs it with the seed and
compares the signature, verifies it with the public key, checks that the Authorization
value carries the same fields, and checks that a one-byte change is rejected.
Exit 0 when all hold, 1 otherwise, 77 when PyNaCl is not installed.
"""
import base64
import hashlib
import json
import re
import sys

try:
    import nacl.exceptions
    import nacl.signing
except ImportError:
    print("PyNaCl not installed", file=sys.stderr)
    sys.exit(77)


def b64d(s):
    if "=" in s:
        raise ValueError("padding")
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def message(c):
    body_hash = hashlib.sha256(c["body"].encode()).hexdigest()
    return "FREIGABE-DEVICE-V1\n%s\n%s\n%s\n%s\n%s" % (
        c["method"], c["path"], c["ts"], c["nonce"], body_hash)


def check_case(c, sk, vk):
    problems = []
    msg = message(c)
    if msg != c["message"]:
        problems.append("message differs")
    sig = sk.sign(msg.encode()).signature
    if b64e(sig) != c["signature"]:
        problems.append("signature not reproduced")
    vk.verify(msg.encode(), b64d(c["signature"]))
    try:
        vk.verify((msg + "x").encode(), b64d(c["signature"]))
        problems.append("modified message verified")
    except nacl.exceptions.BadSignatureError:
        pass
    attrs = dict(re.findall(r'(\w+)="([^"]*)"', c["authorization"]))
    want = {"device": c["device"], "ts": c["ts"], "nonce": c["nonce"], "sig": c["signature"]}
    if not c["authorization"].startswith("Freigabe-Device ") or attrs != want:
        problems.append("authorization header does not match")
    if len(b64d(c["nonce"])) < 16:
        problems.append("nonce shorter than 16 bytes")
    return problems


def main(argv):
    vec = json.load(open(argv[1], encoding="utf-8"))
    sk = nacl.signing.SigningKey(bytes.fromhex(vec["seed_hex"]))
    vk = nacl.signing.VerifyKey(b64d(vec["public_key"]))
    if sk.verify_key.encode() != vk.encode():
        print("public_key does not belong to seed_hex", file=sys.stderr)
        return 1
    bad = 0
    for c in vec["cases"]:
        for p in check_case(c, sk, vk):
            print("%s: %s" % (c["name"], p), file=sys.stderr)
            bad += 1
    print("%d cases checked, %d problems" % (len(vec["cases"]), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
