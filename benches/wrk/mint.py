"""Reads request lines "METHOD<TAB>path<TAB>user_id:role<TAB>body" on stdin
and writes them with the third field replaced by an access token (HS256 JWT
with the claims the server issues: sub, role, iat, exp, iss) signed with the
secret the bench server was started with.

    python3 mint.py SECRET ISSUER TTL_SECS < in.tsv > out.tsv
"""

import base64
import hashlib
import hmac
import json
import sys
import time


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main() -> None:
    secret, issuer, ttl = sys.argv[1].encode(), sys.argv[2], int(sys.argv[3])
    header = b64(json.dumps({"typ": "JWT", "alg": "HS256"}, separators=(",", ":")).encode())
    now = int(time.time())
    cache = {}
    out = sys.stdout
    for line in sys.stdin:
        method, path, who, body = line.rstrip("\n").split("\t")
        if who:
            token = cache.get(who)
            if token is None:
                sub, role = who.split(":")
                claims = {"sub": sub, "role": role, "iat": now, "exp": now + ttl, "iss": issuer}
                payload = b64(json.dumps(claims, separators=(",", ":")).encode())
                signing_input = f"{header}.{payload}".encode()
                signature = b64(hmac.new(secret, signing_input, hashlib.sha256).digest())
                token = cache[who] = f"{header}.{payload}.{signature}"
            who = token
        out.write(f"{method}\t{path}\t{who}\t{body}\n")


if __name__ == "__main__":
    main()
