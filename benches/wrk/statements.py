"""Writes the pgbench scripts of benches/statement_rate.sh from the scan's
statement (scan_statement.sql, the text the server sends, with $1..$37).

    python3 statements.py SCAN_SQL ORGANISER_ID OUT_DIR

The server binds its values; pgbench has only its own variables, so each
script picks a ticket by number from a table the caller made (bench.rep:
tickets already checked in; bench.fresh: tickets not yet) in a first CTE,
`t`, which also draws the new rows' ids (bench.uuid7(), time-ordered like
the server's) and the time. Every value the server would bind becomes an
expression over `t` or a constant of the same type. Scripts written:

  lookup.sql       the ticket picked and nothing else (what `t` costs)
  audit.sql        the audit row of a ticket shown again and its person, alone
  repeat.sql       the scan's statement for a ticket already checked in
  repeat8.sql      eight of those in one transaction, sent in one pipeline
  first.sql        the scan's statement for a ticket not checked in yet
  batch8.sql,      eight (thirty-two) tickets shown again answered by one
  batch32.sql      statement: what a repeat needs (the registration at a
                   published event, its check-in, the audit rows, the
                   answer) for many requests at once. The server sends no
                   such statement; this is the ceiling of batching scans.
"""

import re
import sys

RANDOM_TICKET = "\\set k random(1, :tickets)"


def main() -> None:
    scan_sql, organiser, out = sys.argv[1], sys.argv[2], sys.argv[3]
    lines = open(scan_sql, encoding="utf-8").read().splitlines()
    statement = " ".join(" ".join(l for l in lines if not l.startswith("--")).split())
    me = f"'{organiser}'::uuid"
    path = "'/api/v1/events/bench/checkins'"
    action = "'POST /api/v1/events/{id}/checkins'"
    request = "'bench-request'"
    values = {
        1: "(SELECT ev FROM t)", 2: "NULL::uuid", 3: "NULL::timestamptz", 4: "(SELECT code FROM t)",
        5: "(SELECT cid FROM t)", 6: me, 7: "NULL::uuid", 8: "'门1'", 9: "(SELECT now FROM t)",
        10: "(SELECT now FROM t)", 11: "(SELECT hid FROM t)", 12: "(SELECT stamp FROM t)",
        13: "(SELECT stamp FROM t)", 14: "'checkin.created'",
        # the check-in's audit row
        15: "(SELECT a1 FROM t)", 16: "(SELECT now FROM t)", 17: me, 18: "'organiser'", 19: "'write'",
        20: action, 21: path, 22: "(SELECT ev FROM t)", 23: "201", 24: "'127.0.0.1'", 25: request,
        26: "NULL::text",
        # the audit row of a ticket shown again
        27: "(SELECT a2 FROM t)", 28: "(SELECT now FROM t)", 29: me, 30: "'organiser'", 31: "'write'",
        32: action, 33: path, 34: "(SELECT ev FROM t)", 35: "'127.0.0.1'", 36: request, 37: "NULL::text",
    }
    used = {int(n) for n in re.findall(r"\$(\d+)", statement)}
    if not used <= values.keys():
        sys.exit(f"statements.py: {scan_sql} numbers values {sorted(used - values.keys())} it does not know")
    body = re.sub(r"\$(\d+)(?!\d)", lambda m: values[int(m.group(1))], statement)
    assert body.startswith("WITH ")

    # pgbench reads any ":name" as a variable: the time is written with dots, then given its colons.
    def scan(table: str, key: str) -> str:
        picked = (f"WITH t AS MATERIALIZED (SELECT ev, code, bench.uuid7() AS cid, bench.uuid7() AS hid, "
                  f"bench.uuid7() AS a1, bench.uuid7() AS a2, now() AS now, "
                  f"translate(to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24.MI.SS,US\"Z\"'), '.,', ':.') AS stamp "
                  f"FROM bench.{table} WHERE n = {key}), ")
        return picked + body[len("WITH "):] + ";"

    def write(name: str, *script: str) -> None:
        with open(f"{out}/{name}", "w", encoding="utf-8") as f:
            f.write("\n".join(script) + "\n")

    write("lookup.sql", RANDOM_TICKET, "SELECT ev, code FROM bench.rep WHERE n = :k;")
    write("audit.sql", RANDOM_TICKET,
          f"WITH t AS MATERIALIZED (SELECT ev, bench.uuid7() AS id, now() AS now FROM bench.rep WHERE n = :k), "
          f"logged AS (INSERT INTO audit_log (id, at, actor_id, actor_role, kind, action, path, target_id, "
          f"status, ip, request_id, detail) SELECT id, now, {me}, 'organiser', 'write', {action}, {path}, "
          f"ev, 200, '127.0.0.1', {request}, NULL FROM t RETURNING id) "
          f"INSERT INTO audit_subjects (audit_id, user_id) SELECT logged.id, {me} FROM logged;")
    write("repeat.sql", RANDOM_TICKET, scan("rep", ":k"))
    eight = []
    for j in range(8):
        eight += [f"\\set k{j} random(1, :tickets)", scan("rep", f":k{j}")]
    write("repeat8.sql", "\\startpipeline", "BEGIN;", *eight, "COMMIT;", "\\endpipeline")
    for size in (8, 32):
        keys = ", ".join(f":k{j}" for j in range(size))
        # distinct tickets, so each batch answers `size` of them
        picks = ["\\set k random(0, :tickets - 1)"]
        picks += [f"\\set k{j} (:k + {j} * (:tickets / {size})) % :tickets + 1" for j in range(size)]
        write(f"batch{size}.sql", *picks, " ".join(f"""
WITH t AS MATERIALIZED (SELECT ev, code, bench.uuid7() AS a, now() AS now FROM bench.rep WHERE n IN ({keys})),
seen AS MATERIALIZED (SELECT r.id, r.user_id, t.ev, t.a, t.now FROM t
  JOIN registrations r ON r.ticket_code = t.code AND r.event_id = t.ev AND r.status = 'confirmed'
  JOIN events e ON e.id = t.ev AND e.status = 'published'),
again AS MATERIALIZED (SELECT seen.* FROM seen
  WHERE EXISTS (SELECT 1 FROM checkins c WHERE c.registration_id = seen.id)),
logged AS (INSERT INTO audit_log (id, at, actor_id, actor_role, kind, action, path, target_id, status,
    ip, request_id, detail)
  SELECT a, now, {me}, 'organiser', 'write', {action}, {path}, ev, 200, '127.0.0.1', {request}, NULL
  FROM again RETURNING id),
logged_people AS (INSERT INTO audit_subjects (audit_id, user_id)
  SELECT logged.id, again.user_id FROM logged JOIN again ON again.a = logged.id)
SELECT seen.id AS registration_id, u.id AS student_id, u.full_name, u.university, u.major, u.degree,
  p.id AS prior_id, p.client_checkin_id, p.gate, p.source, p.scanned_at, p.created_at, p.checked_in_by,
  pb.full_name AS prior_by_name
FROM seen JOIN users u ON u.id = seen.user_id LEFT JOIN checkins p ON p.registration_id = seen.id
  LEFT JOIN users pb ON pb.id = p.checked_in_by;""".split()))
    # Each client walks its own stretch of fresh tickets, so each is a first scan.
    write("first.sql", "\\set i :i + 1", "\\set k :client_id * :stretch + :i", scan("fresh", ":k"))


if __name__ == "__main__":
    main()
