-- dingo schema v2: SSO sessions, refresh-token families, back-channel logout deliveries.

-- A person's dingo session in one browser. The cookie holds a random id; only its hash is here.
CREATE TABLE sessions (
    id_hash     TEXT PRIMARY KEY,
    sid         TEXT NOT NULL UNIQUE,   -- the public session id put in ID tokens (`sid`)
    userid      TEXT NOT NULL REFERENCES users (userid),
    route       TEXT NOT NULL,          -- how DingTalk authenticated the person (`amr`)
    auth_time   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX sessions_userid ON sessions (userid);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- The clients that received tokens in a session: they are told when it ends.
CREATE TABLE session_clients (
    sid        TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    PRIMARY KEY (sid, client_id)
);

-- Refresh tokens: one family per login and client, rotated on every use.
CREATE TABLE refresh_tokens (
    token_hash      TEXT PRIMARY KEY,
    family_id       TEXT NOT NULL,
    client_id       TEXT NOT NULL,
    userid          TEXT NOT NULL REFERENCES users (userid),
    scope           TEXT NOT NULL,
    sid             TEXT,
    route           TEXT NOT NULL,
    auth_time       BIGINT NOT NULL,
    successor_key   TEXT NOT NULL,      -- server-side secret from which its successor is derived
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,    -- idle expiry of this token
    family_expires_at BIGINT NOT NULL,  -- absolute expiry of the family
    used_at         BIGINT              -- set when rotated
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (family_expires_at);

ALTER TABLE authorization_codes ADD COLUMN sid TEXT;
ALTER TABLE authorization_codes ADD COLUMN route TEXT NOT NULL DEFAULT 'web';
ALTER TABLE access_tokens ADD COLUMN family_id TEXT;
ALTER TABLE access_tokens ADD COLUMN sid TEXT;
CREATE INDEX access_tokens_family ON access_tokens (family_id);

-- Back-channel logout tokens waiting to be delivered.
CREATE TABLE logout_deliveries (
    id              TEXT PRIMARY KEY,
    client_id       TEXT NOT NULL,
    uri             TEXT NOT NULL,
    logout_token    TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX logout_deliveries_next ON logout_deliveries (next_attempt_at);
