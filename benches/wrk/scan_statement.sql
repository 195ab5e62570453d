-- The statement src/checkin/fast.rs sends for an organiser's scan (no
-- scanned_at, no client_checkin_id), as PostgreSQL receives it:
-- $1 event, $4 ticket code, $5 check-in id, $6 caller, $8 gate,
-- $9/$10 scanned_at and now, $11-$14 the webhook's payload, $15-$26 the
-- check-in's audit row, $27-$37 the audit row of a ticket shown again.
-- benches/statement_rate.sh runs it from pgbench, without the server.
-- The unit test `fast::tests::bench_copy_is_the_statement` fails when the
-- two differ, and prints the statement to copy here.
WITH ev AS (
    SELECT e.id FROM events e
    WHERE e.id = $1 AND e.status = 'published'
), seen AS (
    SELECT r.id, r.user_id FROM registrations r
    WHERE r.ticket_code = $4 AND r.event_id = $1 AND r.status = 'confirmed'
      AND EXISTS (SELECT 1 FROM ev)
), reg AS (
    SELECT r.id, r.user_id FROM registrations r
    WHERE r.id = (SELECT id FROM seen) AND r.status = 'confirmed'
      AND NOT EXISTS (SELECT 1 FROM checkins c WHERE c.registration_id = r.id)
    FOR SHARE OF r
), ins AS (
    INSERT INTO checkins (id, event_id, registration_id, user_id, checked_in_by,
                          client_checkin_id, gate, source, scanned_at, created_at)
    SELECT $5, $1, reg.id, reg.user_id, $6, $7, $8, 'scan', $9, $10 FROM reg
    ON CONFLICT DO NOTHING
    RETURNING registration_id, user_id
), thanks AS (
    INSERT INTO checkin_thanks (checkin_id, event_id, user_id)
    SELECT $5, $1, ins.user_id FROM ins
), hooks AS (INSERT INTO webhook_deliveries (id, endpoint_id, event_type, payload, status, attempts, next_attempt_at, created_at) SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid, w.id, $14::text, json_build_object('created_at', $12::text, 'data', json_build_object('checkin_id', $5, 'event_id', $1, 'registration_id', ins.registration_id, 'scanned_at', $13::text, 'source', 'scan', 'user_id', ins.user_id), 'id', $11, 'type', $14::text)::text, 'pending', 0, $10, $10 FROM ins, webhook_endpoints w WHERE w.active AND EXISTS (SELECT 1 FROM json_array_elements_text(w.event_types) t(v) WHERE t.v = $14::text)), again AS (
    SELECT seen.user_id, 200 AS status
    FROM seen JOIN checkins p ON p.registration_id = seen.id
    WHERE NOT EXISTS (SELECT 1 FROM ins) 
), logged AS (INSERT INTO audit_log (id, at, actor_id, actor_role, kind, action, path, target_id, status, ip, request_id, detail) SELECT $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26 FROM ins RETURNING id), logged_people AS (INSERT INTO audit_subjects (audit_id, user_id) SELECT logged.id, ins.user_id FROM logged, ins), logged_again AS (INSERT INTO audit_log (id, at, actor_id, actor_role, kind, action, path, target_id, status, ip, request_id, detail) SELECT $27, $28, $29, $30, $31, $32, $33, $34, again.status, $35, $36, $37 FROM again RETURNING id), logged_again_people AS (INSERT INTO audit_subjects (audit_id, user_id) SELECT logged_again.id, again.user_id FROM logged_again, again)
SELECT (SELECT count(*) FROM ins) AS inserted,
       seen.id AS registration_id, u.id AS student_id, u.full_name, u.university, u.major, u.degree,
       p.id AS prior_id, p.client_checkin_id AS prior_client_id, p.gate AS prior_gate,
       p.source AS prior_source, p.scanned_at AS prior_scanned_at,
       p.created_at AS prior_created_at, p.checked_in_by AS prior_by, pb.full_name AS prior_by_name,
       false AS client_id_taken
FROM seen
JOIN users u ON u.id = seen.user_id
LEFT JOIN checkins p ON p.registration_id = seen.id
LEFT JOIN users pb ON pb.id = p.checked_in_by
