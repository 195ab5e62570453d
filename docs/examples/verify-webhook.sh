#!/usr/bin/env bash
# Verifies a webhook signature the way a receiver should (the function is the
# one in docs/api.md, "Webhooks"), against a signature made with openssl.
set -euo pipefail
secret="receiver-shared-secret"
body='{"id":"0193","type":"intent.signed","data":{"intent_id":"x"}}'
t=$(date +%s)
v1=$(printf '%s.%s' "$t" "$body" | openssl dgst -sha256 -hmac "$secret" -r | cut -d' ' -f1)
header="t=$t,v1=$v1"
python3 - "$secret" "$header" "$body" <<'PY'
import hashlib, hmac, sys, time

def verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    t, v1 = parts.get("t", ""), parts.get("v1", "")
    if not t.isdigit() or abs(time.time() - int(t)) > tolerance:
        return False
    expected = hmac.new(secret.encode(), t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, v1)

secret, header, body = sys.argv[1], sys.argv[2], sys.argv[3].encode()
assert verify(secret, header, body), "a genuine signature verifies"
assert not verify("another secret", header, body), "another secret does not"
assert not verify(secret, header, body + b" "), "a changed body does not"
print("webhook signature verified")
PY
