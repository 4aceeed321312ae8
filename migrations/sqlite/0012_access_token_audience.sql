-- dingo schema v12: the resource server an access token is for (RFC 8707 `resource`, or the
-- client's default audience), as introspection reports it in `aud`; NULL means the client.

ALTER TABLE access_tokens ADD COLUMN audience TEXT;
