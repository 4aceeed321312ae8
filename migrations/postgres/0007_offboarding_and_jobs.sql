-- dingo schema v7: a person re-hired under a new userid takes over their unionid; access tokens
-- may belong to a client alone; the indexes offboarding needs; one leased job queue; who did what;
-- what changed.
ALTER TABLE users ALTER COLUMN unionid DROP NOT NULL; -- NULL once a newer row (the person re-hired) holds it
-- A unionid belongs to the row that claimed it last: a person re-hired under a new userid keeps
-- their unionid, and their new row takes it over from the old one.
CREATE FUNCTION users_unionid_moves() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.unionid IS NOT NULL THEN
        UPDATE users SET unionid = NULL WHERE unionid = NEW.unionid AND userid <> NEW.userid;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER users_unionid_moves BEFORE INSERT OR UPDATE OF unionid ON users
    FOR EACH ROW EXECUTE FUNCTION users_unionid_moves();
ALTER TABLE access_tokens ALTER COLUMN userid DROP NOT NULL; -- NULL: the client's own token (no person)
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
           json_build_object('client_id', client_id, 'signed', json_build_object('uri', uri, 'logout_token', logout_token))::text,
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
