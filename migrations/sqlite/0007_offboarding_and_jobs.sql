-- dingo schema v7: a person re-hired under a new userid takes over their unionid; access tokens
-- may belong to a client alone; the indexes offboarding needs; one leased job queue; who did what;
-- what changed.
-- SQLite cannot drop a UNIQUE or NOT NULL constraint in place: the two tables are rebuilt
-- (dingo runs migrations with foreign keys off, and checks them afterwards).

CREATE TABLE users_v7 (
    userid        TEXT PRIMARY KEY,
    unionid       TEXT UNIQUE,     -- NULL once a newer row (the person re-hired) holds it
    profile       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    last_login_at BIGINT NOT NULL,
    disabled_at   BIGINT
);
INSERT INTO users_v7 (userid, unionid, profile, created_at, updated_at, last_login_at, disabled_at)
    SELECT userid, unionid, profile, created_at, updated_at, last_login_at, disabled_at FROM users;
DROP TABLE users;
ALTER TABLE users_v7 RENAME TO users;
-- A unionid belongs to the row that claimed it last: a person re-hired under a new userid keeps
-- their unionid, and their new row takes it over from the old one.
CREATE TRIGGER users_unionid_moves_on_insert BEFORE INSERT ON users WHEN NEW.unionid IS NOT NULL
BEGIN
    UPDATE users SET unionid = NULL WHERE unionid = NEW.unionid AND userid <> NEW.userid;
END;
CREATE TRIGGER users_unionid_moves_on_update BEFORE UPDATE OF unionid ON users WHEN NEW.unionid IS NOT NULL
BEGIN
    UPDATE users SET unionid = NULL WHERE unionid = NEW.unionid AND userid <> NEW.userid;
END;

CREATE TABLE access_tokens_v7 (
    token_hash TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    userid     TEXT REFERENCES users (userid),  -- NULL: the client's own token (no person)
    scope      TEXT NOT NULL,
    code_hash  TEXT,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    family_id  TEXT,
    sid        TEXT
);
INSERT INTO access_tokens_v7 (token_hash, client_id, userid, scope, code_hash, created_at, expires_at, family_id, sid)
    SELECT token_hash, client_id, userid, scope, code_hash, created_at, expires_at, family_id, sid FROM access_tokens;
DROP TABLE access_tokens;
ALTER TABLE access_tokens_v7 RENAME TO access_tokens;
CREATE INDEX access_tokens_code_hash ON access_tokens (code_hash);
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);
CREATE INDEX access_tokens_family ON access_tokens (family_id);
CREATE INDEX access_tokens_userid ON access_tokens (userid);
CREATE INDEX refresh_tokens_userid ON refresh_tokens (userid);
CREATE INDEX authorization_codes_userid ON authorization_codes (userid);

-- Work done in the background, once across every instance: an instance leases a due job
-- (leased_by, leased_until), and another may take it over once the lease has run out.
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,     -- backchannel_logout, …
    payload      TEXT NOT NULL,     -- JSON; never a secret
    attempts     BIGINT NOT NULL DEFAULT 0,
    run_at       BIGINT NOT NULL,   -- due from then on
    leased_by    TEXT,
    leased_until BIGINT,
    last_error   TEXT,              -- why the last attempt failed; never a secret
    created_at   BIGINT NOT NULL,
    dead_at      BIGINT             -- given up after its last attempt; kept for operators a while
);
CREATE INDEX jobs_due ON jobs (kind, run_at);
CREATE INDEX jobs_dead ON jobs (dead_at);

-- Logout tokens queued before this version are delivered as they were signed.
INSERT INTO jobs (id, kind, payload, attempts, run_at, created_at)
    SELECT id, 'backchannel_logout',
           json_object('client_id', client_id, 'signed', json_object('uri', uri, 'logout_token', logout_token)),
           attempts, next_attempt_at, created_at
    FROM logout_deliveries;
DROP TABLE logout_deliveries;

-- Who made an administrator's change: cli, person:<userid> or client:<client_id>.
ALTER TABLE audit_events ADD COLUMN actor TEXT;

-- What changed, for every instance to notice: a topic's version goes up with each change
-- (PostgreSQL also sends NOTIFY dingo_changes, topic).
CREATE TABLE changes (
    topic   TEXT PRIMARY KEY,   -- clients, keys, …
    version BIGINT NOT NULL
);
