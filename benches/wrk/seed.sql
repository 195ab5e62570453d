-- Seeds the bench database after the server has migrated it. Variables:
--   bg_events, bg_per_event  events already in the database and confirmed
--                            registrations on each (5,000 × 20 = 100,000);
--                            their tickets are the ones scanned at the door
--   spread_students          students registering over spread_events events
--   crowd_events             events of 1,000 seats and 500 waitlist places,
--                            2,000 students each, filled one after another
-- and a past of 1,000 completed talks (below).
-- The bench schema holds who does what; the server never reads it.
\set ON_ERROR_STOP on
\set spread_events 20
\set crowd_students 2000
CREATE SCHEMA bench;
CREATE TABLE bench.pgbench_scratch (id bigserial PRIMARY KEY, payload text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());

CREATE TABLE bench.organiser AS SELECT gen_random_uuid() AS id;
INSERT INTO users (id, email, password_hash, full_name, university, major, degree,
  graduation_year, role, referral_code, email_verified_at, created_at, updated_at)
SELECT id, 'bench-organiser@nuancheng.local', NULL, '压力测试组织者', NULL, NULL, NULL, NULL,
  'organiser', 'BORG0000', now(), now(), now()
FROM bench.organiser;

-- Students: background ones (5 registrations each), then the spread pool,
-- then the crowd pool.
CREATE TABLE bench.students (n int PRIMARY KEY, id uuid NOT NULL, pool text NOT NULL);
INSERT INTO bench.students
SELECT n, gen_random_uuid(),
  CASE WHEN n <= :bg_events * :bg_per_event / 5 THEN 'bg'
       WHEN n <= :bg_events * :bg_per_event / 5 + :spread_students THEN 'spread'
       ELSE 'crowd' END
FROM generate_series(1, :bg_events * :bg_per_event / 5 + :spread_students
                        + :crowd_events * :crowd_students) AS n;
INSERT INTO users (id, email, password_hash, full_name, university, major, degree,
  graduation_year, role, referral_code, email_verified_at, created_at, updated_at)
SELECT id, 'bench-' || n || '@pku.edu.cn', NULL, '压力测试学生' || n, '北京大学', '化学工程',
  'master', 2027, 'candidate', 'B' || lpad(upper(to_hex(n)), 7, '0'), now(), now(), now()
FROM bench.students;

-- Events: background, spread, crowd. Registration is open; they start in a week.
CREATE TABLE bench.events (n int PRIMARY KEY, id uuid NOT NULL, pool text NOT NULL);
INSERT INTO bench.events
SELECT n, gen_random_uuid(),
  CASE WHEN n <= :bg_events THEN 'bg'
       WHEN n <= :bg_events + :spread_events THEN 'spread'
       ELSE 'crowd' END
FROM generate_series(1, :bg_events + :spread_events + :crowd_events) AS n;
INSERT INTO events (id, campaign_id, title, kind, university, venue, city, starts_at, ends_at,
  capacity, waitlist_limit, registration_opens_at, registration_closes_at, description,
  min_degree, graduation_years, status, cancel_reason, confirmed_count, waitlist_count,
  created_by, published_at, cancelled_at, created_at, updated_at)
SELECT e.id, NULL, '名校引才专项行动·压力测试 ' || e.pool || ' ' || e.n, 'job_fair', '北京大学',
  '百周年纪念讲堂', '北京', now() + interval '7 days', now() + interval '7 days 3 hours',
  CASE e.pool WHEN 'bg' THEN 100 WHEN 'spread' THEN 1000000 ELSE 1000 END,
  CASE e.pool WHEN 'crowd' THEN 500 ELSE 0 END,
  NULL, NULL, '', NULL, NULL, 'published', NULL,
  CASE e.pool WHEN 'bg' THEN :bg_per_event ELSE 0 END, 0,
  o.id, now() - interval '1 day', NULL, now(), now()
FROM bench.events e, bench.organiser o;

-- Background registrations: background student s holds a confirmed ticket for
-- five events, each event has bg_per_event of them.
INSERT INTO registrations (id, event_id, user_id, status, waitlist_position, ticket_code,
  referrer_id, confirmed_at, cancelled_at, cancelled_by, created_at, updated_at)
SELECT gen_random_uuid(), e.id, s.id, 'confirmed', NULL,
  upper(substr(md5(random()::text || r), 1, 26)), NULL, now(), NULL, NULL, now(), now()
FROM generate_series(0, :bg_events * :bg_per_event - 1) AS r
JOIN bench.events e ON e.n = r / :bg_per_event + 1
JOIN bench.students s ON s.n = r % (:bg_events * :bg_per_event / 5) + 1;

-- The campaign's past: 1,000 completed talks of 40 students each (40,000
-- more registrations), every one checked in at the door, thanked by an
-- email long sent, and recorded in the audit trail, so the tables a scan
-- writes are not empty when the phases start and their statistics are
-- those of a database in use.
CREATE TABLE bench.past AS
SELECT gen_random_uuid() AS registration_id, gen_random_uuid() AS checkin_id,
  gen_random_uuid() AS audit_id, e.id AS event_id, s.id AS user_id,
  now() - make_interval(days => 30 + r / 40) AS at
FROM generate_series(0, 39999) AS r
JOIN (SELECT n, gen_random_uuid() AS id FROM generate_series(1, 1000) AS n) e ON e.n = r / 40 + 1
JOIN bench.students s ON s.n = r % (:bg_events * :bg_per_event / 5) + 1;
INSERT INTO events (id, campaign_id, title, kind, university, venue, city, starts_at, ends_at,
  capacity, waitlist_limit, registration_opens_at, registration_closes_at, description,
  min_degree, graduation_years, status, cancel_reason, confirmed_count, waitlist_count,
  created_by, published_at, cancelled_at, created_at, updated_at)
SELECT DISTINCT ON (p.event_id) p.event_id, NULL, '名校引才专项行动·往期宣讲会', 'info_session', '清华大学',
  '大礼堂', '北京', p.at, p.at + interval '3 hours', 100, 0, NULL, NULL, '', NULL, NULL,
  'completed', NULL, 40, 0, o.id, p.at - interval '14 days', NULL, p.at - interval '14 days', p.at
FROM bench.past p, bench.organiser o;
INSERT INTO registrations (id, event_id, user_id, status, waitlist_position, ticket_code,
  referrer_id, confirmed_at, cancelled_at, cancelled_by, created_at, updated_at)
SELECT registration_id, event_id, user_id, 'confirmed', NULL,
  upper(substr(md5(random()::text || registration_id::text), 1, 26)), NULL,
  at - interval '7 days', NULL, NULL, at - interval '7 days', at - interval '7 days'
FROM bench.past;
INSERT INTO checkins (id, event_id, registration_id, user_id, checked_in_by, client_checkin_id,
  gate, source, scanned_at, created_at)
SELECT checkin_id, event_id, registration_id, user_id, o.id, NULL, '东门', 'scan', at, at
FROM bench.past, bench.organiser o;
INSERT INTO notifications (id, kind, to_email, subject, text_body, html_body, status, attempts,
  next_attempt_at, sent_at, created_at)
SELECT gen_random_uuid(), 'checkin_thanks', 'bench-past-' || checkin_id || '@pku.edu.cn',
  '感谢参加', repeat('感谢您参加宣讲会。', 60), repeat('<p>感谢您参加宣讲会。</p>', 60),
  'sent', 1, at, at + interval '1 minute', at
FROM bench.past;
INSERT INTO audit_log (id, at, actor_id, actor_role, kind, action, path, target_id, status, ip,
  request_id, detail)
SELECT audit_id, at, o.id, 'organiser', 'write', 'POST /api/v1/events/{id}/checkins',
  '/api/v1/events/' || event_id || '/checkins', checkin_id, 201, '127.0.0.1', NULL, NULL
FROM bench.past, bench.organiser o;
INSERT INTO audit_subjects (audit_id, user_id) SELECT audit_id, user_id FROM bench.past;

-- Vacuumed and checkpointed here, so the phases measure the server and not
-- autovacuum and the checkpointer catching up with the seed.
VACUUM (ANALYZE);
CHECKPOINT;
