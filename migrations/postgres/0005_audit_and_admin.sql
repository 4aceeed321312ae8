-- dingo schema v5: the audit log, and people disabled by an administrator.
CREATE TABLE audit_events (
    id        TEXT PRIMARY KEY,
    at        BIGINT NOT NULL,
    kind      TEXT NOT NULL,   -- login | refresh | revocation | logout | admin
    outcome   TEXT NOT NULL,   -- success, or why not (refused_not_member, …)
    userid    TEXT,
    client_id TEXT,
    route     TEXT,            -- how DingTalk authenticated the person, for logins
    detail    TEXT             -- a short English explanation; never a secret, code or token
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_userid ON audit_events (userid, at);
CREATE INDEX audit_events_client ON audit_events (client_id, at);

-- People an administrator disabled: they cannot log in until enabled again.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
