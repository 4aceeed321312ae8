-- dingo schema v3: signing keys, shared by every instance.
-- A key is published from created_at, signs from activates_at until retires_at, and leaves the
-- JWKS at removed_at. The private key is never stored in clear: PKCS#8 sealed with AES-256-GCM
-- under the key-encryption key (keys.kek), as "v1." + base64url(nonce | ciphertext | tag).
CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,   -- RFC 7638 thumbprint of the public key
    alg          TEXT NOT NULL,      -- RS256, ES256 or EdDSA
    private_key  TEXT NOT NULL,      -- sealed PKCS#8
    public_jwk   TEXT NOT NULL,      -- JSON
    successor_of TEXT UNIQUE,        -- the key it took over from: at most one successor per key
    created_at   BIGINT NOT NULL,
    activates_at BIGINT NOT NULL,
    retires_at   BIGINT,             -- stops signing; NULL while nothing supersedes it
    removed_at   BIGINT              -- leaves the JWKS
);
CREATE INDEX signing_keys_alg ON signing_keys (alg, activates_at);
