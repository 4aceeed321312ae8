-- dingo schema v13: when DingTalk last confirmed each person (a login, a refresh, an event's or
-- the reconciliation's re-check), for refreshes granted through a short DingTalk outage.

ALTER TABLE users ADD COLUMN checked_at BIGINT;
UPDATE users SET checked_at = last_login_at;
