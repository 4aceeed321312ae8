-- dingo schema v11: what each person agreed an app may receive (a client's `consent = "once"`,
-- and any `prompt=consent` answered yes).

CREATE TABLE consents (
    userid     TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,    -- the scopes agreed to, space-separated
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (userid, client_id)
);
