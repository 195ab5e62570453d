-- The scans' statement src/checkin/fast.rs sends, as PostgreSQL receives
-- it: $1 is a JSON array of scans, one object each (its fields are the
-- recordset `b` below; `ord` is its place, by which each scan finds its
-- answer). benches/statement_rate.sh runs it from pgbench, without the
-- server. The unit test `fast::tests::bench_copy_is_the_statement` fails
-- when the two differ, and prints the statement to copy here.

WITH b AS MATERIALIZED (
    SELECT * FROM json_to_recordset($1::json) AS b(
        ord int, event_id uuid, employer_id uuid, sent_at timestamptz, code text, id uuid,
        caller uuid, client_id uuid, gate text, scanned_at timestamptz, now timestamptz,
        now_text text, scanned_text text, hook_id uuid, a_id uuid, a_again_id uuid,
        a_at timestamptz, a_actor_id uuid, a_actor_role text, a_kind text, a_action text, a_path text, a_target_id uuid, a_status int, a_ip text, a_request_id text, a_detail text)
), seen AS MATERIALIZED (
    -- Each scan's ticket by its unique index (LIMIT keeps the look per
    -- scan: joined as a whole, the planner would read every event).
    SELECT b.ord, s.id, s.user_id FROM b, LATERAL (
        SELECT r.id, r.user_id FROM registrations r JOIN events e ON e.id = r.event_id
        WHERE r.ticket_code = b.code AND r.event_id = b.event_id AND r.status = 'confirmed'
          AND e.status = 'published'
          AND (b.employer_id IS NULL
               OR EXISTS (SELECT 1 FROM event_employers ee
                          WHERE ee.event_id = e.id AND ee.employer_id = b.employer_id))
          AND (b.sent_at IS NULL OR b.sent_at >= e.starts_at - interval '1 day')
        LIMIT 1
    ) s
), reg AS (
    SELECT seen.ord, r.id, r.user_id FROM seen JOIN registrations r ON r.id = seen.id
    WHERE r.status = 'confirmed'
      AND NOT EXISTS (SELECT 1 FROM checkins c WHERE c.registration_id = r.id)
    ORDER BY r.id
    FOR SHARE OF r
), ins AS (
    INSERT INTO checkins (id, event_id, registration_id, user_id, checked_in_by,
                          client_checkin_id, gate, source, scanned_at, created_at)
    SELECT b.id, b.event_id, reg.id, reg.user_id, b.caller, b.client_id, b.gate, 'scan',
           b.scanned_at, b.now
    FROM reg JOIN b ON b.ord = reg.ord
    ORDER BY reg.id
    ON CONFLICT DO NOTHING
    RETURNING id, registration_id, user_id
), done AS (
    SELECT b.*, ins.registration_id, ins.user_id, 'checkin.created'::text AS hook_type
    FROM ins JOIN b ON b.id = ins.id
), thanks AS (
    INSERT INTO checkin_thanks (checkin_id, event_id, user_id)
    SELECT done.id, done.event_id, done.user_id FROM done
), hooks AS (INSERT INTO webhook_deliveries (id, endpoint_id, event_type, payload, status, attempts, next_attempt_at, created_at) SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid, w.id, done.hook_type, json_build_object('created_at', done.now_text, 'data', json_build_object('checkin_id', done.id, 'event_id', done.event_id, 'registration_id', done.registration_id, 'scanned_at', done.scanned_text, 'source', 'scan', 'user_id', done.user_id), 'id', done.hook_id, 'type', done.hook_type)::text, 'pending', 0, done.now, done.now FROM done, webhook_endpoints w WHERE w.active AND EXISTS (SELECT 1 FROM json_array_elements_text(w.event_types) t(v) WHERE t.v = done.hook_type)), again AS (
    -- A ticket shown again: the student, when this statement made no
    -- check-in for the scan and the earlier one it found is the answer (so
    -- not when a `client_checkin_id` names another check-in: the general
    -- path says which). `status` is the answer's: 201 for the same scan
    -- sent again, else 200 `already_checked_in`.
    SELECT b.*, seen.user_id,
           CASE WHEN p.client_checkin_id = b.client_id THEN 201 ELSE 200 END AS status
    FROM seen JOIN b ON b.ord = seen.ord JOIN checkins p ON p.registration_id = seen.id
    WHERE NOT EXISTS (SELECT 1 FROM done WHERE done.ord = seen.ord)
      AND (b.client_id IS NULL OR p.client_checkin_id = b.client_id
           OR NOT EXISTS (SELECT 1 FROM checkins c WHERE c.client_checkin_id = b.client_id))
), logged AS (INSERT INTO audit_log (id, at, actor_id, actor_role, kind, action, path, target_id, status, ip, request_id, detail) SELECT done.a_id, done.a_at, done.a_actor_id, done.a_actor_role, done.a_kind, done.a_action, done.a_path, done.a_target_id, done.a_status, done.a_ip, done.a_request_id, done.a_detail FROM done RETURNING id), logged_people AS (INSERT INTO audit_subjects (audit_id, user_id) SELECT logged.id, done.user_id FROM logged JOIN done ON done.a_id = logged.id), logged_again AS (INSERT INTO audit_log (id, at, actor_id, actor_role, kind, action, path, target_id, status, ip, request_id, detail) SELECT again.a_again_id, again.a_at, again.a_actor_id, again.a_actor_role, again.a_kind, again.a_action, again.a_path, again.a_target_id, again.status, again.a_ip, again.a_request_id, again.a_detail FROM again RETURNING id), logged_again_people AS (INSERT INTO audit_subjects (audit_id, user_id) SELECT logged_again.id, again.user_id FROM logged_again JOIN again ON again.a_again_id = logged_again.id)
SELECT seen.ord, EXISTS (SELECT 1 FROM done WHERE done.ord = seen.ord) AS inserted,
       seen.id AS registration_id, u.id AS student_id, u.full_name, u.university, u.major, u.degree,
       p.id AS prior_id, p.client_checkin_id AS prior_client_id, p.gate AS prior_gate,
       p.source AS prior_source, p.scanned_at AS prior_scanned_at,
       p.created_at AS prior_created_at, p.checked_in_by AS prior_by, pb.full_name AS prior_by_name,
       (b.client_id IS NOT NULL
        AND EXISTS (SELECT 1 FROM checkins c WHERE c.client_checkin_id = b.client_id))
           AS client_id_taken
FROM seen
JOIN b ON b.ord = seen.ord
JOIN users u ON u.id = seen.user_id
LEFT JOIN checkins p ON p.registration_id = seen.id
LEFT JOIN users pb ON pb.id = p.checked_in_by
