-- The SQLite twin of seed.sql (same rows, same parameters, read by
-- benches/wrk.sh through sqlite3's .parameter): ids are 16-byte blobs,
-- times RFC 3339 text with microseconds as the server writes them. The
-- bench_ tables hold who does what; the server never reads them.
.bail on
PRAGMA journal_mode = WAL;
PRAGMA synchronous = NORMAL;
PRAGMA foreign_keys = ON;
CREATE TEMP VIEW t AS SELECT
  strftime('%Y-%m-%dT%H:%M:%f000+00:00', 'now') AS now,
  strftime('%Y-%m-%dT%H:%M:%f000+00:00', 'now', '-1 day') AS yesterday,
  strftime('%Y-%m-%dT%H:%M:%f000+00:00', 'now', '+7 days') AS starts,
  strftime('%Y-%m-%dT%H:%M:%f000+00:00', 'now', '+7 days', '+3 hours') AS ends;
CREATE TABLE bench_scratch (id INTEGER PRIMARY KEY, payload TEXT NOT NULL);
CREATE TABLE bench_uuid (id BLOB PRIMARY KEY, uid TEXT NOT NULL);

BEGIN;
CREATE TABLE bench_organiser AS SELECT randomblob(16) AS id;
INSERT INTO users (id, email, password_hash, full_name, university, major, degree,
  graduation_year, role, referral_code, email_verified_at, created_at, updated_at)
SELECT id, 'bench-organiser@nuancheng.local', NULL, '压力测试组织者', NULL, NULL, NULL, NULL,
  'organiser', 'BORG0000', t.now, t.now, t.now
FROM bench_organiser, t;

CREATE TABLE bench_students (n INTEGER PRIMARY KEY, id BLOB NOT NULL, pool TEXT NOT NULL);
INSERT INTO bench_students
SELECT value, randomblob(16),
  CASE WHEN value <= @bg_events * @bg_per_event / 5 THEN 'bg'
       WHEN value <= @bg_events * @bg_per_event / 5 + @spread_students THEN 'spread'
       ELSE 'crowd' END
FROM generate_series(1, @bg_events * @bg_per_event / 5 + @spread_students + @crowd_events * 2000);
INSERT INTO users (id, email, password_hash, full_name, university, major, degree,
  graduation_year, role, referral_code, email_verified_at, created_at, updated_at)
SELECT id, 'bench-' || n || '@pku.edu.cn', NULL, '压力测试学生' || n, '北京大学', '化学工程',
  'master', 2027, 'candidate', 'B' || printf('%07X', n), t.now, t.now, t.now
FROM bench_students, t;

CREATE TABLE bench_events (n INTEGER PRIMARY KEY, id BLOB NOT NULL, pool TEXT NOT NULL);
INSERT INTO bench_events
SELECT value, randomblob(16),
  CASE WHEN value <= @bg_events THEN 'bg'
       WHEN value <= @bg_events + 20 THEN 'spread'
       ELSE 'crowd' END
FROM generate_series(1, @bg_events + 20 + @crowd_events);
INSERT INTO events (id, campaign_id, title, kind, university, venue, city, starts_at, ends_at,
  capacity, waitlist_limit, registration_opens_at, registration_closes_at, description,
  min_degree, graduation_years, status, cancel_reason, confirmed_count, waitlist_count,
  created_by, published_at, cancelled_at, created_at, updated_at)
SELECT e.id, NULL, '名校引才专项行动·压力测试 ' || e.pool || ' ' || e.n, 'job_fair', '北京大学',
  '百周年纪念讲堂', '北京', t.starts, t.ends,
  CASE e.pool WHEN 'bg' THEN 100 WHEN 'spread' THEN 1000000 ELSE 1000 END,
  CASE e.pool WHEN 'crowd' THEN 500 ELSE 0 END,
  NULL, NULL, '', NULL, NULL, 'published', NULL,
  CASE e.pool WHEN 'bg' THEN @bg_per_event ELSE 0 END, 0,
  o.id, t.yesterday, NULL, t.now, t.now
FROM bench_events e, bench_organiser o, t;

INSERT INTO registrations (id, event_id, user_id, status, waitlist_position, ticket_code,
  referrer_id, confirmed_at, cancelled_at, cancelled_by, created_at, updated_at)
SELECT randomblob(16), e.id, s.id, 'confirmed', NULL, hex(randomblob(13)), NULL,
  t.now, NULL, NULL, t.now, t.now
FROM generate_series(0, @bg_events * @bg_per_event - 1) AS r
JOIN bench_events e ON e.n = r.value / @bg_per_event + 1
JOIN bench_students s ON s.n = r.value % (@bg_events * @bg_per_event / 5) + 1, t;

-- Text forms of the ids, for the request files.
INSERT INTO bench_uuid
SELECT id, lower(substr(hex(id), 1, 8) || '-' || substr(hex(id), 9, 4) || '-' || substr(hex(id), 13, 4)
  || '-' || substr(hex(id), 17, 4) || '-' || substr(hex(id), 21))
FROM (SELECT id FROM bench_students UNION ALL SELECT id FROM bench_events
      UNION ALL SELECT id FROM bench_organiser);
COMMIT;
ANALYZE;
