-- dingo schema v8: DingTalk's organisation-change events, each recorded once across every
-- instance (its job acts on it); when a person left the organisation.

CREATE TABLE org_events (
    event_key   TEXT PRIMARY KEY,  -- DingTalk's eventId, or sha256:<hex> of a push that has none
    event_type  TEXT NOT NULL,     -- user_leave_org, user_modify_org, …
    via         TEXT NOT NULL,     -- stream | http | reconcile
    payload     TEXT NOT NULL,     -- the event as dingo read it, JSON; never a secret
    born_at_ms  BIGINT,            -- when DingTalk says the change happened
    received_at BIGINT NOT NULL    -- kept a week: longer than DingTalk redelivers
);
CREATE INDEX org_events_received_at ON org_events (received_at);

ALTER TABLE users ADD COLUMN left_at BIGINT;  -- DingTalk said they left; cleared by a later login
