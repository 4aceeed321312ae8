-- dingo schema v1. Portable subset: TEXT ids, BIGINT unix seconds.
-- Codes, tokens and browser bindings are stored only as base64url(SHA-256).

-- People who have logged in at least once, keyed by their DingTalk userid (the `sub`).
CREATE TABLE users (
    userid        TEXT PRIMARY KEY,
    unionid       TEXT NOT NULL UNIQUE,
    profile       TEXT NOT NULL,   -- JSON: the identity resolved from DingTalk at the last login
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL, -- when the profile last changed
    last_login_at BIGINT NOT NULL
);

-- Logins sent to DingTalk and not yet back: the upstream `state`, bound to one browser.
CREATE TABLE pending_logins (
    state_hash   TEXT PRIMARY KEY,
    browser_hash TEXT NOT NULL,
    request      TEXT NOT NULL,    -- JSON: the validated authorization request
    expires_at   BIGINT NOT NULL
);
CREATE INDEX pending_logins_expires_at ON pending_logins (expires_at);

CREATE TABLE authorization_codes (
    code_hash      TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    userid         TEXT NOT NULL REFERENCES users (userid),
    scope          TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT,
    auth_time      BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    consumed_at    BIGINT
);
CREATE INDEX authorization_codes_expires_at ON authorization_codes (expires_at);

CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    userid     TEXT NOT NULL REFERENCES users (userid),
    scope      TEXT NOT NULL,
    code_hash  TEXT,               -- the code it was issued for: revoked if that code is replayed
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX access_tokens_code_hash ON access_tokens (code_hash);
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);
