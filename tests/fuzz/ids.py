"""Ids that exist in the seeded database, as schemathesis settings.

A generated UUID names nothing, so an operation on `/events/{id}` would only
ever answer 404 and its handler would go untested. This asks the running
server, as the admin, for the ids of the demo campaign and prints TOML that
run.sh appends to schemathesis.toml: one dictionary per kind of id, drawn
for half the cases of the operations that take one (in the path, the query
or the body); the other half stay generated, so unknown ids are still tried.

    python3 ids.py http://127.0.0.1:PORT ACCESS_TOKEN >> settings.toml
"""

import json
import sys
import urllib.request

# How often a dictionary's id is used instead of a generated value.
PROBABILITY = 0.5
# Enough of each kind to reach different states (draft, published, completed
# events; waitlisted and cancelled registrations; intents in every status).
PER_KIND = 40

# Which dictionary the `{id}` of each path prefix draws from.
PATH_IDS = [
    (r"^/api/v1/events/\{id\}", "events"),
    (r"^/api/v1/employers/\{id\}", "employers"),
    (r"^/api/v1/campaigns/\{id\}", "campaigns"),
    (r"^/api/v1/positions/\{id\}", "positions"),
    (r"^/api/v1/intents/\{id\}", "intents"),
    (r"^/api/v1/registrations/\{id\}", "registrations"),
    (r"^/api/v1/notifications/\{id\}", "notifications"),
    (r"^/api/v1/users/\{id\}", "users"),
]
# Query and body fields named after what they point to, on every operation.
FIELD_IDS = {
    "event_id": "events",
    "employer_id": "employers",
    "campaign_id": "campaigns",
    "position_id": "positions",
    "candidate_id": "candidates",
}


class Server:
    def __init__(self, base, token):
        self.base = base
        self.token = token

    def get(self, path):
        request = urllib.request.Request(
            f"{self.base}/api/v1{path}", headers={"Authorization": f"Bearer {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)

    def ids(self, path, key="id", keep=lambda item: True):
        items = self.get(path)["items"]
        return [item[key] for item in items if keep(item)][:PER_KIND]


def collect(server):
    events = []
    for status in ("draft", "published", "completed", "cancelled"):
        events += server.ids(f"/events?status={status}&limit=200")
    registrations = []
    for event in events:
        registrations += server.ids(f"/events/{event}/registrations?limit=10")
    return {
        "events": events,
        "employers": server.ids("/employers?limit=200"),
        "campaigns": server.ids("/campaigns?limit=200"),
        "positions": server.ids("/positions?limit=200"),
        "intents": server.ids("/intents?limit=200"),
        "registrations": registrations[:PER_KIND],
        "notifications": server.ids("/notifications?limit=200"),
        "users": server.ids("/users?limit=200"),
        "candidates": server.ids("/users?role=candidate&limit=200"),
    }


def toml(found):
    known = {name for name, values in found.items() if values}
    lines = ["", "# Ids of the seeded database, found by tests/fuzz/ids.py."]
    for name in sorted(known):
        lines += ["", f"[dictionaries.{name}]", f"values = {json.dumps(found[name])}"]

    def binding(name):
        return f'{{ dictionary = "{name}", probability = {PROBABILITY} }}'

    fields = [
        f'"{place}.{field}" = {binding(name)}'
        for field, name in FIELD_IDS.items()
        if name in known
        for place in ("query", "body")
    ]
    for pattern, name in PATH_IDS:
        if name not in known:
            continue
        bindings = ", ".join([f'"path.id" = {binding(name)}', *fields])
        lines += ["", "[[operations]]", f"include-path-regex = '{pattern}'"]
        lines += [f"parameters = {{ {bindings} }}"]
    other = "|".join(pattern.lstrip("^") for pattern, _ in PATH_IDS)
    lines += ["", "[[operations]]", f"exclude-path-regex = '^({other})'"]
    lines += [f"parameters = {{ {', '.join(fields)} }}"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(toml(collect(Server(sys.argv[1], sys.argv[2]))), end="")
