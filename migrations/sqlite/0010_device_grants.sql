-- dingo schema v10: device authorization grants (RFC 8628). Both codes are stored hashed; the
-- device code is taken once, when the approved grant is exchanged for tokens.

CREATE TABLE device_grants (
    device_code_hash TEXT PRIMARY KEY,  -- SHA-256 of the device_code the device polls with
    user_code_hash   TEXT NOT NULL UNIQUE, -- SHA-256 of the normalised user code a person types
    client_id        TEXT NOT NULL,
    scope            TEXT NOT NULL,
    status           TEXT NOT NULL,     -- pending, approved or denied
    userid           TEXT,              -- who approved or denied it
    sid              TEXT,              -- the session it was approved in
    route            TEXT,
    auth_time        BIGINT,
    poll_interval    BIGINT NOT NULL,   -- seconds between polls, raised by each slow_down
    last_polled_at   BIGINT,
    expires_at       BIGINT NOT NULL
);
CREATE INDEX device_grants_expires_at ON device_grants (expires_at);
