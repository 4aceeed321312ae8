-- dingo schema v6: clients managed at run time (`dingo clients …`), beside the configured ones.
CREATE TABLE clients (
    client_id     TEXT PRIMARY KEY,
    settings      TEXT NOT NULL,   -- JSON: the client's settings, without any secret
    secret_sha256 TEXT,            -- hex SHA-256 of the secret; NULL for public clients
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
