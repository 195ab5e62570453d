"""What the fuzz runs reached: for every operation of the OpenAPI document,
the statuses the server answered, read from its own /metrics (requests by
method, route pattern and status). An operation that never answered 2xx was
only ever refused, so its handler's work went untested.

    python3 coverage.py http://127.0.0.1:PORT
"""

import json
import re
import sys
import urllib.request
from collections import defaultdict

METHODS = ("get", "put", "post", "delete", "patch")
SAMPLE = re.compile(r'^http_requests_total\{(?P<labels>.*)\} (?P<value>\S+)$')
LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def fetch(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


def main(base):
    document = json.loads(fetch(f"{base}/api/v1/openapi.json"))
    answered = defaultdict(lambda: defaultdict(int))
    for line in fetch(f"{base}/metrics").splitlines():
        sample = SAMPLE.match(line)
        if not sample:
            continue
        labels = dict(LABEL.findall(sample["labels"]))
        key = (labels.get("method", ""), labels.get("route", ""))
        answered[key][labels.get("status", "")] += int(float(sample["value"]))

    width = max(len(path) for path in document["paths"]) + 8
    never_ok = []
    for path, item in sorted(document["paths"].items()):
        for method in METHODS:
            if method not in item:
                continue
            statuses = answered.get((method.upper(), path), {})
            shown = " ".join(f"{status}×{n}" for status, n in sorted(statuses.items()))
            print(f"  {method.upper():6} {path:{width}} {shown or '-'}")
            if not any(status.startswith("2") for status in statuses):
                never_ok.append(f"{method.upper()} {path}")
    print(f"{len(never_ok)} operations never answered 2xx: {', '.join(never_ok) or 'none'}")


if __name__ == "__main__":
    main(sys.argv[1])
