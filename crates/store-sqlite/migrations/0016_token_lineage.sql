-- Tokens minted with a token die with it: `parent_token_id` names the token
-- a token was created with (NULL when created in a signed-in session or at
-- the command line); revoking a token revokes its descendants, and a token
-- whose ancestor is revoked is refused.
ALTER TABLE api_tokens ADD COLUMN parent_token_id BLOB REFERENCES api_tokens (id);
CREATE INDEX api_tokens_parent ON api_tokens (parent_token_id);
-- Where a token was last used from: the client address and the user agent,
-- both bounded by the node, written with `last_used_at`.
ALTER TABLE api_tokens ADD COLUMN last_used_from TEXT;
ALTER TABLE api_tokens ADD COLUMN last_used_agent TEXT;
-- Whether the session passed the second factor (at sign-in, or by enrolling
-- one in it): creating tokens needs it where a second factor applies. The
-- sessions open before this column existed have not, as far as anyone knows.
ALTER TABLE sessions ADD COLUMN second_factor_done INTEGER NOT NULL DEFAULT 0;
