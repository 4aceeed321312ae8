-- dingo schema v9: pushed authorization requests (RFC 9126), each usable once before it expires.

CREATE TABLE pushed_requests (
    uri_hash   TEXT PRIMARY KEY,  -- SHA-256 of the request_uri handed to the client
    client_id  TEXT NOT NULL,
    params     TEXT NOT NULL,     -- the authorization request's parameters, form-encoded
    expires_at BIGINT NOT NULL
);
CREATE INDEX pushed_requests_expires_at ON pushed_requests (expires_at);
