"""Writes the pgbench scripts of benches/statement_rate.sh from the scans'
statement (scan_statement.sql, the text the server sends; its one value,
$1, is a JSON array of scans).

    python3 statements.py SCAN_SQL ORGANISER_ID OUT_DIR

The server binds the array; pgbench has only its own variables, so each
script builds the array in SQL in place of $1: tickets picked by number
from a table the caller made (bench.rep: tickets already checked in;
bench.fresh: tickets not yet), new rows' ids from bench.uuid7()
(time-ordered like the server's), the time from now(), and the rest as the
server fills them for an organiser's scan. Scripts written:

  lookup.sql       one ticket picked and nothing else (what picking costs)
  audit.sql        the audit row of a ticket shown again and its person, alone
  repeat1.sql      the scans' statement with one ticket already checked in
  repeat8.sql      ... with eight such tickets (distinct), answered together
  repeat32.sql     ... with thirty-two
  first1.sql       the scans' statement with one ticket not checked in yet
  first8.sql       ... with eight
"""

import sys

ACTION = "'POST /api/v1/events/{id}/checkins'"
PATH = "'/api/v1/events/bench/checkins'"


def main() -> None:
    scan_sql, organiser, out = sys.argv[1], sys.argv[2], sys.argv[3]
    lines = open(scan_sql, encoding="utf-8").read().splitlines()
    statement = " ".join(" ".join(l for l in lines if not l.lstrip().startswith("--")).split())
    if statement.count("$1") != 1 or "$2" in statement:
        sys.exit(f"statements.py: {scan_sql} is expected to take one value, $1")
    me = f"'{organiser}'::uuid"
    # pgbench reads any ":name" as a variable: the time is written with dots, then given its colons.
    stamp = ("translate(to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24.MI.SS,US\"Z\"'), '.,', ':.')")
    fields = {
        "ord": "o", "event_id": "ev", "employer_id": "NULL::uuid",
        "sent_at": "NULL::timestamptz", "code": "code", "id": "bench.uuid7()", "caller": me,
        "client_id": "NULL::uuid", "gate": "'门1'", "scanned_at": "now()", "now": "now()",
        "now_text": stamp, "scanned_text": stamp, "hook_id": "bench.uuid7()", "a_id": "bench.uuid7()",
        "a_again_id": "bench.uuid7()", "a_at": "now()", "a_actor_id": me, "a_actor_role": "'organiser'",
        "a_kind": "'write'", "a_action": ACTION, "a_path": PATH, "a_target_id": "ev", "a_status": "201",
        "a_ip": "'127.0.0.1'", "a_request_id": "'bench-request'", "a_detail": "NULL::text",
    }
    row = "json_build_object(" + ", ".join(f"'{k}', {v}" for k, v in fields.items()) + ")"

    def scans(table: str, keys: list) -> str:
        rows = f"SELECT *, row_number() OVER () - 1 AS o FROM bench.{table} WHERE n IN ({', '.join(keys)})"
        picked = f"(SELECT json_agg({row}) FROM ({rows}) r)"
        return statement.replace("$1", picked) + ";"

    def write(name: str, *script: str) -> None:
        with open(f"{out}/{name}", "w", encoding="utf-8") as f:
            f.write("\n".join(script) + "\n")

    def shown_again(size: int) -> list:
        # distinct tickets, so each statement answers `size` of them
        picks = ["\\set k random(0, :tickets - 1)"]
        picks += [f"\\set k{j} (:k + {j} * (:tickets / {size})) % :tickets + 1" for j in range(size)]
        return picks + [scans("rep", [f":k{j}" for j in range(size)])]

    def first(size: int) -> list:
        # each client walks its own stretch of fresh tickets, so each is a first scan
        picks = ["\\set i :i + 1"]
        picks += [f"\\set k{j} :client_id * :stretch + (:i - 1) * {size} + {j + 1}" for j in range(size)]
        return picks + [scans("fresh", [f":k{j}" for j in range(size)])]

    write("lookup.sql", "\\set k random(1, :tickets)", "SELECT ev, code FROM bench.rep WHERE n = :k;")
    write("audit.sql", "\\set k random(1, :tickets)",
          f"WITH t AS MATERIALIZED (SELECT ev, bench.uuid7() AS id, now() AS now FROM bench.rep WHERE n = :k), "
          f"logged AS (INSERT INTO audit_log (id, at, actor_id, actor_role, kind, action, path, target_id, "
          f"status, ip, request_id, detail) SELECT id, now, {me}, 'organiser', 'write', {ACTION}, {PATH}, "
          f"ev, 200, '127.0.0.1', 'bench-request', NULL FROM t RETURNING id) "
          f"INSERT INTO audit_subjects (audit_id, user_id) SELECT logged.id, {me} FROM logged;")
    for size in (1, 8, 32):
        write(f"repeat{size}.sql", *shown_again(size))
    for size in (1, 8):
        write(f"first{size}.sql", *first(size))


if __name__ == "__main__":
    main()
