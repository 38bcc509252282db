//! The SQL shared by the SQLite and PostgreSQL stores.
//!
//! Both backends keep the same tables and column names (their migrations
//! differ only in column types); instants are stored as milliseconds since
//! the Unix epoch and role sets as comma-separated names, so the statements
//! below are valid in both dialects. Parameters are numbered `$1, $2...` in
//! order of first appearance, which SQLite reads as named parameters bound
//! by position. `impl_sql_store!(Type, Database, "name")` implements every
//! storage trait for a struct holding `pool: sqlx::Pool<Database>`.

#[doc(hidden)]
#[macro_export]
macro_rules! impl_sql_store {
    ($store:ident, $db:ty, $backend:literal) => {
        mod shared_sql {
            use super::$store;
            use entraide_domain::{
                CaseReference, CaseStatus, CaseSummary, CaseTitle, CountryCode,
                DisplayName, Email, NodeId, OrganisationKind, OrganisationName, RoleSet,
            };
            use $crate::{
                from_millis, to_millis, KnowledgeRow, ApiToken, AuditEntry, CustodyEvent, CustodyJob, EvidenceItem, InboxMessage, OutboxMessage, Peer, EvidenceUpload, ForeignTreeHead, NewCustodyEvent, StoredTreeHead, AuditFilter, Case, CaseMember, CooperationRequest, RequestEvent, RequestFilter,
                NewAuditEntry, NewUser, Organisation, Session, StoreError, StoreResult, User,
            };
            use sqlx::Row;
            use time::OffsetDateTime;
            use uuid::Uuid;

            type Db = $db;
            type DbRow = <Db as sqlx::Database>::Row;

            fn db_err(e: sqlx::Error) -> StoreError {
                StoreError::Database(e.to_string())
            }

            /// Maps a unique-constraint violation to a conflict on `field`.
            fn conflict_or(e: sqlx::Error, field: &'static str) -> StoreError {
                match &e {
                    sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(field),
                    _ => db_err(e),
                }
            }

            fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
                StoreError::Corrupt(format!("{what}: {e}"))
            }

            fn opt_millis(v: Option<i64>) -> StoreResult<Option<OffsetDateTime>> {
                v.map(from_millis).transpose()
            }

            async fn insert_audit<'e, E>(exec: E, e: &NewAuditEntry) -> StoreResult<()>
            where
                E: sqlx::Executor<'e, Database = Db>,
            {
                sqlx::query(
                    "INSERT INTO audit_log (at, actor_id, actor, action, outcome, case_id, target, client_ip, request_id, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(to_millis(e.at))
                .bind(e.actor_id)
                .bind(&e.actor)
                .bind(e.action.as_str())
                .bind(e.outcome.as_str())
                .bind(e.case_id)
                .bind(&e.target)
                .bind(&e.client_ip)
                .bind(&e.request_id)
                .bind(&e.detail)
                .execute(exec)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            const USER_COLUMNS: &str = "id, email, display_name, password_hash, roles, disabled, failed_sign_ins, locked_until, totp_secret, totp_enabled, locale, calendar_key_hash, created_at";

            fn user_from_row(row: &DbRow) -> StoreResult<User> {
                let email: String = row.try_get("email").map_err(db_err)?;
                let name: String = row.try_get("display_name").map_err(db_err)?;
                let roles: String = row.try_get("roles").map_err(db_err)?;
                let failures: i64 = row.try_get("failed_sign_ins").map_err(db_err)?;
                Ok(User {
                    id: row.try_get("id").map_err(db_err)?,
                    email: Email::parse(&email).map_err(|e| corrupt("user e-mail", e))?,
                    display_name: DisplayName::parse(&name).map_err(|e| corrupt("user name", e))?,
                    password_hash: row.try_get("password_hash").map_err(db_err)?,
                    roles: RoleSet::parse_list(&roles).map_err(|e| corrupt("user roles", e))?,
                    disabled: row.try_get("disabled").map_err(db_err)?,
                    failed_sign_ins: u32::try_from(failures).unwrap_or(u32::MAX),
                    locked_until: opt_millis(row.try_get("locked_until").map_err(db_err)?)?,
                    totp_secret: row.try_get("totp_secret").map_err(db_err)?,
                    totp_enabled: row.try_get("totp_enabled").map_err(db_err)?,
                    locale: row.try_get("locale").map_err(db_err)?,
                    calendar_key_hash: row.try_get("calendar_key_hash").map_err(db_err)?,
                    created_at: from_millis(row.try_get("created_at").map_err(db_err)?)?,
                })
            }

            const CASE_COLUMNS: &str = "c.id, c.reference, c.title, c.summary, c.status, c.created_by, c.created_at, c.updated_at";

            fn case_from_row(row: &DbRow) -> StoreResult<Case> {
                let reference: String = row.try_get("reference").map_err(db_err)?;
                let title: String = row.try_get("title").map_err(db_err)?;
                let summary: String = row.try_get("summary").map_err(db_err)?;
                let status: String = row.try_get("status").map_err(db_err)?;
                Ok(Case {
                    id: row.try_get("id").map_err(db_err)?,
                    reference: CaseReference::parse(&reference).map_err(|e| corrupt("case reference", e))?,
                    title: CaseTitle::parse(&title).map_err(|e| corrupt("case title", e))?,
                    summary: CaseSummary::parse(&summary).map_err(|e| corrupt("case summary", e))?,
                    status: status.parse::<CaseStatus>().map_err(|e| corrupt("case status", e))?,
                    created_by: row.try_get("created_by").map_err(db_err)?,
                    created_at: from_millis(row.try_get("created_at").map_err(db_err)?)?,
                    updated_at: from_millis(row.try_get("updated_at").map_err(db_err)?)?,
                })
            }

            fn token_from_row(row: &DbRow) -> StoreResult<ApiToken> {
                Ok(ApiToken {
                    id: row.try_get("id").map_err(db_err)?,
                    user_id: row.try_get("user_id").map_err(db_err)?,
                    name: row.try_get("name").map_err(db_err)?,
                    token_hash: row.try_get("token_hash").map_err(db_err)?,
                    created_at: from_millis(row.try_get("created_at").map_err(db_err)?)?,
                    last_used_at: opt_millis(row.try_get("last_used_at").map_err(db_err)?)?,
                    revoked_at: opt_millis(row.try_get("revoked_at").map_err(db_err)?)?,
                })
            }

            const TOKEN_COLUMNS: &str = "id, user_id, name, token_hash, created_at, last_used_at, revoked_at";

            #[$crate::async_trait]
            impl $crate::OrganisationStore for $store {
                async fn own_organisation(&self) -> StoreResult<Organisation> {
                    let row = sqlx::query(
                        "SELECT id, node_id, name, kind, country, require_totp, created_at FROM organisations WHERE is_own = $1",
                    )
                    .bind(true)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?
                    .ok_or(StoreError::NotFound)?;
                    let node_id: String = row.try_get("node_id").map_err(db_err)?;
                    let name: String = row.try_get("name").map_err(db_err)?;
                    let kind: String = row.try_get("kind").map_err(db_err)?;
                    let country: String = row.try_get("country").map_err(db_err)?;
                    Ok(Organisation {
                        id: row.try_get("id").map_err(db_err)?,
                        node_id: NodeId::parse(&node_id).map_err(|e| corrupt("node id", e))?,
                        name: OrganisationName::parse(&name).map_err(|e| corrupt("organisation name", e))?,
                        kind: kind.parse::<OrganisationKind>().map_err(|e| corrupt("organisation kind", e))?,
                        country: CountryCode::parse(&country).map_err(|e| corrupt("country", e))?,
                        require_totp: row.try_get("require_totp").map_err(db_err)?,
                        created_at: from_millis(row.try_get("created_at").map_err(db_err)?)?,
                    })
                }

                async fn create_own_organisation(&self, o: &Organisation) -> StoreResult<()> {
                    sqlx::query(
                        "INSERT INTO organisations (id, node_id, name, kind, country, require_totp, is_own, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(o.id)
                    .bind(o.node_id.as_str())
                    .bind(o.name.as_str())
                    .bind(o.kind.as_str())
                    .bind(o.country.as_str())
                    .bind(o.require_totp)
                    .bind(true)
                    .bind(to_millis(o.created_at))
                    .execute(&self.pool)
                    .await
                    .map_err(|e| conflict_or(e, "organisation"))?;
                    Ok(())
                }

                async fn set_require_totp(&self, require: bool, audit: &NewAuditEntry) -> StoreResult<()> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    sqlx::query("UPDATE organisations SET require_totp = $1 WHERE is_own = $2")
                        .bind(require)
                        .bind(true)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)
                }
            }

            #[$crate::async_trait]
            impl $crate::UserStore for $store {
                async fn create_user(&self, u: &NewUser, audit: &NewAuditEntry) -> StoreResult<()> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    sqlx::query(
                        "INSERT INTO users (id, email, display_name, password_hash, roles, disabled, failed_sign_ins, totp_enabled, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .bind(u.id)
                    .bind(u.email.as_str())
                    .bind(u.display_name.as_str())
                    .bind(&u.password_hash)
                    .bind(u.roles.to_list())
                    .bind(false)
                    .bind(0_i64)
                    .bind(false)
                    .bind(to_millis(u.created_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| conflict_or(e, "email"))?;
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)
                }

                async fn user_by_email(&self, email: &Email) -> StoreResult<Option<User>> {
                    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
                    sqlx::query(&sql)
                        .bind(email.as_str())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?
                        .as_ref()
                        .map(user_from_row)
                        .transpose()
                }

                async fn user_by_id(&self, id: Uuid) -> StoreResult<Option<User>> {
                    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
                    sqlx::query(&sql)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?
                        .as_ref()
                        .map(user_from_row)
                        .transpose()
                }

                async fn list_users(&self) -> StoreResult<Vec<User>> {
                    let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY email");
                    sqlx::query(&sql)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?
                        .iter()
                        .map(user_from_row)
                        .collect()
                }

                async fn set_roles(&self, id: Uuid, roles: RoleSet, audit: &NewAuditEntry) -> StoreResult<()> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    let done = sqlx::query("UPDATE users SET roles = $1 WHERE id = $2")
                        .bind(roles.to_list())
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)
                }

                async fn set_disabled(&self, id: Uuid, disabled: bool, audit: &NewAuditEntry) -> StoreResult<()> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    let done = sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
                        .bind(disabled)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound);
                    }
                    if disabled {
                        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                            .bind(id)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_err)?;
                    }
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)
                }

                async fn record_sign_in_failure(
                    &self,
                    id: Uuid,
                    failures: u32,
                    locked_until: Option<OffsetDateTime>,
                    audit: &NewAuditEntry,
                ) -> StoreResult<()> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    sqlx::query("UPDATE users SET failed_sign_ins = $1, locked_until = $2 WHERE id = $3")
                        .bind(i64::from(failures))
                        .bind(locked_until.map(to_millis))
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)
                }

                async fn record_sign_in_success(&self, id: Uuid) -> StoreResult<()> {
                    sqlx::query("UPDATE users SET failed_sign_ins = $1, locked_until = NULL WHERE id = $2")
                        .bind(0_i64)
                        .bind(id)
                        .execute(&self.pool)
                        .await
                        .map_err(db_err)?;
                    Ok(())
                }

                async fn set_pending_totp_secret(&self, id: Uuid, secret: &str) -> StoreResult<()> {
                    sqlx::query("UPDATE users SET totp_secret = $1 WHERE id = $2 AND totp_enabled = $3")
                        .bind(secret)
                        .bind(id)
                        .bind(false)
                        .execute(&self.pool)
                        .await
                        .map_err(db_err)?;
                    Ok(())
                }

                async fn enable_totp(&self, id: Uuid, audit: &NewAuditEntry) -> StoreResult<()> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    sqlx::query("UPDATE users SET totp_enabled = $1 WHERE id = $2 AND totp_secret IS NOT NULL")
                        .bind(true)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)
                }

                async fn consume_totp_step(&self, id: Uuid, step: i64) -> StoreResult<bool> {
                    let done = sqlx::query(
                        "UPDATE users SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $3)",
                    )
                    .bind(step)
                    .bind(id)
                    .bind(step)
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn set_calendar_key(&self, id: Uuid, key_hash: Option<&str>, audit: &NewAuditEntry) -> StoreResult<()> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    sqlx::query("UPDATE users SET calendar_key_hash = $1 WHERE id = $2")
                        .bind(key_hash)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)
                }

                async fn user_by_calendar_key(&self, key_hash: &str) -> StoreResult<Option<User>> {
                    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE calendar_key_hash = $1 AND disabled = $2");
                    sqlx::query(&sql)
                        .bind(key_hash)
                        .bind(false)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?
                        .as_ref()
                        .map(user_from_row)
                        .transpose()
                }

                async fn set_locale(&self, id: Uuid, locale: &str) -> StoreResult<()> {
                    sqlx::query("UPDATE users SET locale = $1 WHERE id = $2")
                        .bind(locale)
                        .bind(id)
                        .execute(&self.pool)
                        .await
                        .map_err(db_err)?;
                    Ok(())
                }

                async fn set_password_hash(&self, id: Uuid, hash: &str, keep_session: Option<&str>, audit: &NewAuditEntry) -> StoreResult<()> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
                        .bind(hash)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
                        .bind(id)
                        .bind(keep_session.unwrap_or(""))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)
                }
            }

            #[$crate::async_trait]
            impl $crate::SessionStore for $store {
                async fn create_session(&self, s: &Session) -> StoreResult<()> {
                    sqlx::query(
                        "INSERT INTO sessions (id_hash, user_id, csrf_token, second_factor_pending, created_at, last_seen_at, client_ip) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(&s.id_hash)
                    .bind(s.user_id)
                    .bind(&s.csrf_token)
                    .bind(s.second_factor_pending)
                    .bind(to_millis(s.created_at))
                    .bind(to_millis(s.last_seen_at))
                    .bind(&s.client_ip)
                    .execute(&self.pool)
                    .await
                    .map_err(|e| conflict_or(e, "session"))?;
                    Ok(())
                }

                async fn session(&self, id_hash: &str) -> StoreResult<Option<Session>> {
                    let row = sqlx::query(
                        "SELECT id_hash, user_id, csrf_token, second_factor_pending, created_at, last_seen_at, client_ip FROM sessions WHERE id_hash = $1",
                    )
                    .bind(id_hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?;
                    let Some(row) = row else { return Ok(None) };
                    Ok(Some(Session {
                        id_hash: row.try_get("id_hash").map_err(db_err)?,
                        user_id: row.try_get("user_id").map_err(db_err)?,
                        csrf_token: row.try_get("csrf_token").map_err(db_err)?,
                        second_factor_pending: row.try_get("second_factor_pending").map_err(db_err)?,
                        created_at: from_millis(row.try_get("created_at").map_err(db_err)?)?,
                        last_seen_at: from_millis(row.try_get("last_seen_at").map_err(db_err)?)?,
                        client_ip: row.try_get("client_ip").map_err(db_err)?,
                    }))
                }

                async fn touch_session(&self, id_hash: &str, at: OffsetDateTime) -> StoreResult<()> {
                    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
                        .bind(to_millis(at))
                        .bind(id_hash)
                        .execute(&self.pool)
                        .await
                        .map_err(db_err)?;
                    Ok(())
                }

                async fn complete_second_factor(&self, id_hash: &str) -> StoreResult<()> {
                    sqlx::query("UPDATE sessions SET second_factor_pending = $1 WHERE id_hash = $2")
                        .bind(false)
                        .bind(id_hash)
                        .execute(&self.pool)
                        .await
                        .map_err(db_err)?;
                    Ok(())
                }

                async fn delete_session(&self, id_hash: &str) -> StoreResult<()> {
                    sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                        .bind(id_hash)
                        .execute(&self.pool)
                        .await
                        .map_err(db_err)?;
                    Ok(())
                }

                async fn delete_sessions_older_than(
                    &self,
                    created_before: OffsetDateTime,
                    seen_before: OffsetDateTime,
                ) -> StoreResult<u64> {
                    let done = sqlx::query("DELETE FROM sessions WHERE created_at < $1 OR last_seen_at < $2")
                        .bind(to_millis(created_before))
                        .bind(to_millis(seen_before))
                        .execute(&self.pool)
                        .await
                        .map_err(db_err)?;
                    Ok(done.rows_affected())
                }
            }

            #[$crate::async_trait]
            impl $crate::TokenStore for $store {
                async fn create_token(&self, t: &ApiToken, audit: &NewAuditEntry) -> StoreResult<()> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    sqlx::query(
                        "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(t.id)
                    .bind(t.user_id)
                    .bind(&t.name)
                    .bind(&t.token_hash)
                    .bind(to_millis(t.created_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| conflict_or(e, "token"))?;
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)
                }

                async fn token_by_hash(&self, token_hash: &str) -> StoreResult<Option<ApiToken>> {
                    let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = $1");
                    sqlx::query(&sql)
                        .bind(token_hash)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?
                        .as_ref()
                        .map(token_from_row)
                        .transpose()
                }

                async fn token_with_user(&self, token_hash: &str) -> StoreResult<Option<(ApiToken, User)>> {
                    let row = sqlx::query(
                        "SELECT t.id AS token_id, t.name AS token_name, t.token_hash, t.created_at AS token_created_at, \
                         t.last_used_at, t.revoked_at, u.id, u.email, u.display_name, u.password_hash, u.roles, u.disabled, \
                         u.failed_sign_ins, u.locked_until, u.totp_secret, u.totp_enabled, u.locale, u.calendar_key_hash, u.created_at \
                         FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
                    )
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?;
                    let Some(row) = row else { return Ok(None) };
                    let user = user_from_row(&row)?;
                    let token = ApiToken {
                        id: row.try_get("token_id").map_err(db_err)?,
                        user_id: user.id,
                        name: row.try_get("token_name").map_err(db_err)?,
                        token_hash: row.try_get("token_hash").map_err(db_err)?,
                        created_at: from_millis(row.try_get("token_created_at").map_err(db_err)?)?,
                        last_used_at: opt_millis(row.try_get("last_used_at").map_err(db_err)?)?,
                        revoked_at: opt_millis(row.try_get("revoked_at").map_err(db_err)?)?,
                    };
                    Ok(Some((token, user)))
                }

                async fn token_by_id(&self, id: Uuid) -> StoreResult<Option<ApiToken>> {
                    let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE id = $1");
                    sqlx::query(&sql)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?
                        .as_ref()
                        .map(token_from_row)
                        .transpose()
                }

                async fn tokens_for_user(&self, user_id: Uuid) -> StoreResult<Vec<ApiToken>> {
                    let sql = format!("SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 ORDER BY created_at");
                    sqlx::query(&sql)
                        .bind(user_id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?
                        .iter()
                        .map(token_from_row)
                        .collect()
                }

                async fn revoke_token(&self, id: Uuid, at: OffsetDateTime, audit: &NewAuditEntry) -> StoreResult<bool> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                        .bind(to_millis(at))
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    if done.rows_affected() == 0 {
                        return Ok(false);
                    }
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(true)
                }

                async fn touch_token(&self, id: Uuid, at: OffsetDateTime) -> StoreResult<()> {
                    sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                        .bind(to_millis(at))
                        .bind(id)
                        .execute(&self.pool)
                        .await
                        .map_err(db_err)?;
                    Ok(())
                }
            }

            #[$crate::async_trait]
            impl $crate::CaseStore for $store {
                async fn create_case(&self, c: &Case, audit: &NewAuditEntry) -> StoreResult<()> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    sqlx::query(
                        "INSERT INTO cases (id, reference, title, summary, status, created_by, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(c.id)
                    .bind(c.reference.as_str())
                    .bind(c.title.as_str())
                    .bind(c.summary.as_str())
                    .bind(c.status.as_str())
                    .bind(c.created_by)
                    .bind(to_millis(c.created_at))
                    .bind(to_millis(c.updated_at))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| conflict_or(e, "reference"))?;
                    sqlx::query("INSERT INTO case_members (case_id, user_id, added_by, added_at) VALUES ($1, $2, $3, $4)")
                        .bind(c.id)
                        .bind(c.created_by)
                        .bind(c.created_by)
                        .bind(to_millis(c.created_at))
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)
                }

                async fn case_by_id(&self, id: Uuid) -> StoreResult<Option<Case>> {
                    let sql = format!("SELECT {CASE_COLUMNS} FROM cases c WHERE c.id = $1");
                    sqlx::query(&sql)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?
                        .as_ref()
                        .map(case_from_row)
                        .transpose()
                }

                async fn cases_for_member(&self, user_id: Uuid) -> StoreResult<Vec<Case>> {
                    let sql = format!(
                        "SELECT {CASE_COLUMNS} FROM cases c JOIN case_members m ON m.case_id = c.id \
                         WHERE m.user_id = $1 ORDER BY c.updated_at DESC, c.reference"
                    );
                    sqlx::query(&sql)
                        .bind(user_id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?
                        .iter()
                        .map(case_from_row)
                        .collect()
                }

                async fn all_cases(&self) -> StoreResult<Vec<Case>> {
                    let sql = format!("SELECT {CASE_COLUMNS} FROM cases c ORDER BY c.updated_at DESC, c.reference");
                    sqlx::query(&sql)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?
                        .iter()
                        .map(case_from_row)
                        .collect()
                }

                async fn is_case_member(&self, case_id: Uuid, user_id: Uuid) -> StoreResult<bool> {
                    let row = sqlx::query("SELECT 1 AS one FROM case_members WHERE case_id = $1 AND user_id = $2")
                        .bind(case_id)
                        .bind(user_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?;
                    Ok(row.is_some())
                }

                async fn case_members(&self, case_id: Uuid) -> StoreResult<Vec<CaseMember>> {
                    let rows = sqlx::query(
                        "SELECT m.user_id, u.email, u.display_name, m.added_by, m.added_at \
                         FROM case_members m JOIN users u ON u.id = m.user_id WHERE m.case_id = $1 ORDER BY u.email",
                    )
                    .bind(case_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    rows.iter()
                        .map(|row| {
                            let email: String = row.try_get("email").map_err(db_err)?;
                            let name: String = row.try_get("display_name").map_err(db_err)?;
                            Ok(CaseMember {
                                user_id: row.try_get("user_id").map_err(db_err)?,
                                email: Email::parse(&email).map_err(|e| corrupt("member e-mail", e))?,
                                display_name: DisplayName::parse(&name).map_err(|e| corrupt("member name", e))?,
                                added_by: row.try_get("added_by").map_err(db_err)?,
                                added_at: from_millis(row.try_get("added_at").map_err(db_err)?)?,
                            })
                        })
                        .collect()
                }

                async fn add_case_member(
                    &self,
                    case_id: Uuid,
                    user_id: Uuid,
                    added_by: Uuid,
                    at: OffsetDateTime,
                    audit: &NewAuditEntry,
                ) -> StoreResult<()> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    sqlx::query("INSERT INTO case_members (case_id, user_id, added_by, added_at) VALUES ($1, $2, $3, $4)")
                        .bind(case_id)
                        .bind(user_id)
                        .bind(added_by)
                        .bind(to_millis(at))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| conflict_or(e, "member"))?;
                    sqlx::query("UPDATE cases SET updated_at = $1 WHERE id = $2")
                        .bind(to_millis(at))
                        .bind(case_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)
                }

                async fn remove_case_member(&self, case_id: Uuid, user_id: Uuid, audit: &NewAuditEntry) -> StoreResult<bool> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    let done = sqlx::query("DELETE FROM case_members WHERE case_id = $1 AND user_id = $2")
                        .bind(case_id)
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    if done.rows_affected() == 0 {
                        return Ok(false);
                    }
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(true)
                }
            }


            const REQUEST_COLUMNS: &str = "r.id, r.case_id, r.reference, r.kind, r.direction, r.state, r.legal_basis, r.requested_country, \
                r.counterpart, r.content, r.drafted_by, r.approved_by, r.approved_digest, r.refusal_ground, r.deadline_due, \
                r.deadline_source, r.created_at, r.updated_at, r.sent_at, r.acknowledged_at, r.first_data_at, r.closed_at";

            fn request_from_row(row: &DbRow) -> StoreResult<CooperationRequest> {
                use entraide_domain::request::{Direction, LegalBasis, RefusalGround, RequestKind, RequestState};
                let kind: String = row.try_get("kind").map_err(db_err)?;
                let direction: String = row.try_get("direction").map_err(db_err)?;
                let state: String = row.try_get("state").map_err(db_err)?;
                let basis: Option<String> = row.try_get("legal_basis").map_err(db_err)?;
                let country: Option<String> = row.try_get("requested_country").map_err(db_err)?;
                let ground: Option<String> = row.try_get("refusal_ground").map_err(db_err)?;
                let content: String = row.try_get("content").map_err(db_err)?;
                Ok(CooperationRequest {
                    id: row.try_get("id").map_err(db_err)?,
                    case_id: row.try_get("case_id").map_err(db_err)?,
                    reference: row.try_get("reference").map_err(db_err)?,
                    kind: kind.parse::<RequestKind>().map_err(|e| corrupt("request kind", e))?,
                    direction: direction.parse::<Direction>().map_err(|e| corrupt("direction", e))?,
                    state: state.parse::<RequestState>().map_err(|e| corrupt("request state", e))?,
                    legal_basis: basis.map(|b| b.parse::<LegalBasis>()).transpose().map_err(|e| corrupt("legal basis", e))?,
                    requested_country: country.map(|c| CountryCode::parse(&c)).transpose().map_err(|e| corrupt("country", e))?,
                    counterpart: row.try_get("counterpart").map_err(db_err)?,
                    content: serde_json::from_str(&content).map_err(|e| corrupt("request content", e))?,
                    drafted_by: row.try_get("drafted_by").map_err(db_err)?,
                    approved_by: row.try_get("approved_by").map_err(db_err)?,
                    approved_digest: row.try_get("approved_digest").map_err(db_err)?,
                    refusal_ground: ground.map(|g| g.parse::<RefusalGround>()).transpose().map_err(|e| corrupt("refusal ground", e))?,
                    deadline_due: opt_millis(row.try_get("deadline_due").map_err(db_err)?)?,
                    deadline_source: row.try_get("deadline_source").map_err(db_err)?,
                    created_at: from_millis(row.try_get("created_at").map_err(db_err)?)?,
                    updated_at: from_millis(row.try_get("updated_at").map_err(db_err)?)?,
                    sent_at: opt_millis(row.try_get("sent_at").map_err(db_err)?)?,
                    acknowledged_at: opt_millis(row.try_get("acknowledged_at").map_err(db_err)?)?,
                    first_data_at: opt_millis(row.try_get("first_data_at").map_err(db_err)?)?,
                    closed_at: opt_millis(row.try_get("closed_at").map_err(db_err)?)?,
                })
            }

            async fn insert_request_event<'e, E>(exec: E, e: &RequestEvent) -> StoreResult<()>
            where
                E: sqlx::Executor<'e, Database = Db>,
            {
                sqlx::query(
                    "INSERT INTO request_events (request_id, at, actor_id, actor, action, from_state, to_state, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(e.request_id)
                .bind(to_millis(e.at))
                .bind(e.actor_id)
                .bind(&e.actor)
                .bind(&e.action)
                .bind(&e.from_state)
                .bind(&e.to_state)
                .bind(&e.detail)
                .execute(exec)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            /// What one request contributes to the statistics aggregates.
            fn stat_row(r: &CooperationRequest) -> entraide_domain::request::StatRow {
                entraide_domain::request::StatRow {
                    kind: r.kind,
                    direction: r.direction,
                    state: r.state,
                    country: r.requested_country,
                    refusal_ground: r.refusal_ground,
                    created_at: r.created_at,
                    sent_at: r.sent_at,
                    acknowledged_at: r.acknowledged_at,
                    first_data_at: r.first_data_at,
                    closed_at: r.closed_at,
                }
            }

            async fn add_count(
                tx: &mut sqlx::Transaction<'_, Db>,
                day: i64,
                k: &entraide_domain::request::CountKey,
                n: i64,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO request_stat_counts (day, kind, direction, state, country, ground, n) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (day, kind, direction, state, country, ground) DO UPDATE SET n = request_stat_counts.n + excluded.n",
                )
                .bind(day)
                .bind(&k.kind)
                .bind(&k.direction)
                .bind(&k.state)
                .bind(&k.country)
                .bind(&k.ground)
                .bind(n)
                .execute(&mut **tx)
                .await
                .map_err(db_err)?;
                Ok(())
            }

            /// Moves a request's contribution from `before` to `after`, in the
            /// same transaction as the write.
            async fn move_statistics(
                tx: &mut sqlx::Transaction<'_, Db>,
                before: Option<&CooperationRequest>,
                after: &CooperationRequest,
            ) -> StoreResult<()> {
                let day = to_millis(after.created_at).div_euclid(86_400_000);
                let new = stat_row(after);
                let old = before.map(stat_row);
                let new_key = new.count_key();
                if old.as_ref().map(|o| o.count_key()) != Some(new_key.clone()) {
                    if let Some(o) = &old {
                        add_count(tx, day, &o.count_key(), -1).await?;
                    }
                    add_count(tx, day, &new_key, 1).await?;
                }
                let had: Vec<_> = old.map(|o| o.durations()).unwrap_or_default();
                for (measure, hours) in new.durations() {
                    if had.iter().any(|(m, _)| *m == measure) {
                        continue;
                    }
                    sqlx::query(
                        "INSERT INTO request_stat_durations (day, measure, hours, n) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (day, measure, hours) DO UPDATE SET n = request_stat_durations.n + excluded.n",
                    )
                    .bind(day)
                    .bind(measure.as_str())
                    .bind(hours)
                    .bind(1_i64)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
                }
                Ok(())
            }

            fn content_json(r: &CooperationRequest) -> StoreResult<String> {
                serde_json::to_string(&r.content).map_err(|e| StoreError::Corrupt(format!("request content: {e}")))
            }

            #[$crate::async_trait]
            impl $crate::RequestStore for $store {
                async fn create_request(&self, r: &CooperationRequest, event: &RequestEvent, audit: &NewAuditEntry) -> StoreResult<()> {
                    let content = content_json(r)?;
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    sqlx::query(
                        "INSERT INTO requests (id, case_id, reference, kind, direction, state, legal_basis, requested_country, \
                         counterpart, content, drafted_by, approved_by, approved_digest, refusal_ground, deadline_due, \
                         deadline_source, created_at, updated_at, sent_at, acknowledged_at, first_data_at, closed_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)",
                    )
                    .bind(r.id)
                    .bind(r.case_id)
                    .bind(&r.reference)
                    .bind(r.kind.as_str())
                    .bind(r.direction.as_str())
                    .bind(r.state.as_str())
                    .bind(r.legal_basis.map(|b| b.as_str()))
                    .bind(r.requested_country.map(|c| c.to_string()))
                    .bind(&r.counterpart)
                    .bind(content)
                    .bind(r.drafted_by)
                    .bind(r.approved_by)
                    .bind(&r.approved_digest)
                    .bind(r.refusal_ground.map(|g| g.as_str()))
                    .bind(r.deadline_due.map(to_millis))
                    .bind(&r.deadline_source)
                    .bind(to_millis(r.created_at))
                    .bind(to_millis(r.updated_at))
                    .bind(r.sent_at.map(to_millis))
                    .bind(r.acknowledged_at.map(to_millis))
                    .bind(r.first_data_at.map(to_millis))
                    .bind(r.closed_at.map(to_millis))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| conflict_or(e, "reference"))?;
                    move_statistics(&mut tx, None, r).await?;
                    insert_request_event(&mut *tx, event).await?;
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)
                }

                async fn request_by_id(&self, id: Uuid) -> StoreResult<Option<CooperationRequest>> {
                    let sql = format!("SELECT {REQUEST_COLUMNS} FROM requests r WHERE r.id = $1");
                    sqlx::query(&sql)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?
                        .as_ref()
                        .map(request_from_row)
                        .transpose()
                }

                async fn requests_for_member(&self, member: Uuid, f: &RequestFilter) -> StoreResult<Vec<CooperationRequest>> {
                    let mut q = sqlx::QueryBuilder::<Db>::new(format!(
                        "SELECT {REQUEST_COLUMNS} FROM requests r JOIN case_members m ON m.case_id = r.case_id WHERE m.user_id = "
                    ));
                    q.push_bind(member);
                    if let Some(case_id) = f.case_id {
                        q.push(" AND r.case_id = ").push_bind(case_id);
                    }
                    if let Some(state) = f.state {
                        q.push(" AND r.state = ").push_bind(state.as_str());
                    }
                    if let Some(kind) = f.kind {
                        q.push(" AND r.kind = ").push_bind(kind.as_str());
                    }
                    if let Some(direction) = f.direction {
                        q.push(" AND r.direction = ").push_bind(direction.as_str());
                    }
                    if let Some(before) = f.due_before {
                        q.push(" AND r.deadline_due IS NOT NULL AND r.deadline_due < ").push_bind(to_millis(before));
                        q.push(" ORDER BY r.deadline_due ASC");
                    } else {
                        q.push(" ORDER BY r.updated_at DESC");
                    }
                    q.push(" LIMIT ").push_bind(i64::from(f.limit.clamp(1, 10_000)));
                    q.build()
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?
                        .iter()
                        .map(request_from_row)
                        .collect()
                }

                async fn all_requests(&self, f: &RequestFilter) -> StoreResult<Vec<CooperationRequest>> {
                    let mut q = sqlx::QueryBuilder::<Db>::new(format!("SELECT {REQUEST_COLUMNS} FROM requests r WHERE 1 = 1"));
                    if let Some(state) = f.state {
                        q.push(" AND r.state = ").push_bind(state.as_str());
                    }
                    if let Some(kind) = f.kind {
                        q.push(" AND r.kind = ").push_bind(kind.as_str());
                    }
                    if let Some(direction) = f.direction {
                        q.push(" AND r.direction = ").push_bind(direction.as_str());
                    }
                    q.push(" ORDER BY r.updated_at DESC LIMIT ").push_bind(i64::from(f.limit.clamp(1, 100_000)));
                    q.build()
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?
                        .iter()
                        .map(request_from_row)
                        .collect()
                }

                async fn request_by_reference(&self, reference: &str) -> StoreResult<Option<CooperationRequest>> {
                    let sql = format!("SELECT {REQUEST_COLUMNS} FROM requests r WHERE r.reference = $1");
                    sqlx::query(&sql)
                        .bind(reference)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?
                        .as_ref()
                        .map(request_from_row)
                        .transpose()
                }

                async fn count_requests_in_case(&self, case_id: Uuid) -> StoreResult<i64> {
                    let row = sqlx::query("SELECT COUNT(*) AS n FROM requests WHERE case_id = $1")
                        .bind(case_id)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(db_err)?;
                    row.try_get("n").map_err(db_err)
                }

                async fn update_request(
                    &self,
                    previous: &CooperationRequest,
                    r: &CooperationRequest,
                    event: &RequestEvent,
                    audit: &NewAuditEntry,
                ) -> StoreResult<bool> {
                    let expected_state = previous.state;
                    let content = content_json(r)?;
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    let done = sqlx::query(
                        "UPDATE requests SET state = $1, legal_basis = $2, requested_country = $3, counterpart = $4, content = $5, \
                         approved_by = $6, approved_digest = $7, refusal_ground = $8, deadline_due = $9, deadline_source = $10, \
                         updated_at = $11, sent_at = $12, acknowledged_at = $13, first_data_at = $14, closed_at = $15 \
                         WHERE id = $16 AND state = $17",
                    )
                    .bind(r.state.as_str())
                    .bind(r.legal_basis.map(|b| b.as_str()))
                    .bind(r.requested_country.map(|c| c.to_string()))
                    .bind(&r.counterpart)
                    .bind(content)
                    .bind(r.approved_by)
                    .bind(&r.approved_digest)
                    .bind(r.refusal_ground.map(|g| g.as_str()))
                    .bind(r.deadline_due.map(to_millis))
                    .bind(&r.deadline_source)
                    .bind(to_millis(r.updated_at))
                    .bind(r.sent_at.map(to_millis))
                    .bind(r.acknowledged_at.map(to_millis))
                    .bind(r.first_data_at.map(to_millis))
                    .bind(r.closed_at.map(to_millis))
                    .bind(r.id)
                    .bind(expected_state.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    if done.rows_affected() == 0 {
                        return Ok(false);
                    }
                    move_statistics(&mut tx, Some(previous), r).await?;
                    insert_request_event(&mut *tx, event).await?;
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(true)
                }

                async fn claim_reminders(&self, now: OffsetDateTime, horizon: OffsetDateTime) -> StoreResult<Vec<CooperationRequest>> {
                    let sql = format!(
                        "SELECT {REQUEST_COLUMNS} FROM requests r WHERE r.reminded_at IS NULL AND r.deadline_due IS NOT NULL \
                         AND r.deadline_due < $1 AND r.state NOT IN ('answered', 'refused', 'withdrawn', 'expired') \
                         ORDER BY r.deadline_due LIMIT 100"
                    );
                    let candidates: Vec<CooperationRequest> = sqlx::query(&sql)
                        .bind(to_millis(horizon))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?
                        .iter()
                        .map(request_from_row)
                        .collect::<StoreResult<_>>()?;
                    let mut claimed = Vec::new();
                    for r in candidates {
                        let done = sqlx::query("UPDATE requests SET reminded_at = $1 WHERE id = $2 AND reminded_at IS NULL")
                            .bind(to_millis(now))
                            .bind(r.id)
                            .execute(&self.pool)
                            .await
                            .map_err(db_err)?;
                        if done.rows_affected() == 1 {
                            claimed.push(r);
                        }
                    }
                    Ok(claimed)
                }

                async fn release_reminder(&self, id: Uuid) -> StoreResult<()> {
                    sqlx::query("UPDATE requests SET reminded_at = NULL WHERE id = $1")
                        .bind(id)
                        .execute(&self.pool)
                        .await
                        .map_err(db_err)?;
                    Ok(())
                }

                async fn overdue_preservations(&self, before: OffsetDateTime) -> StoreResult<Vec<CooperationRequest>> {
                    let sql = format!(
                        "SELECT {REQUEST_COLUMNS} FROM requests r WHERE r.state = $1 AND r.deadline_due IS NOT NULL AND r.deadline_due < $2 \
                         ORDER BY r.deadline_due LIMIT 1000"
                    );
                    sqlx::query(&sql)
                        .bind("preserved")
                        .bind(to_millis(before))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?
                        .iter()
                        .map(request_from_row)
                        .collect()
                }

                async fn request_stat_rows(&self, from: OffsetDateTime, to: OffsetDateTime) -> StoreResult<Vec<entraide_domain::request::StatRow>> {
                    use entraide_domain::request::{Direction, RefusalGround, RequestKind, RequestState, StatRow};
                    let rows = sqlx::query(
                        "SELECT kind, direction, state, requested_country, refusal_ground, created_at, sent_at, \
                         acknowledged_at, first_data_at, closed_at FROM requests WHERE created_at >= $1 AND created_at < $2",
                    )
                    .bind(to_millis(from))
                    .bind(to_millis(to))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    rows.iter()
                        .map(|row| {
                            let kind: String = row.try_get("kind").map_err(db_err)?;
                            let direction: String = row.try_get("direction").map_err(db_err)?;
                            let state: String = row.try_get("state").map_err(db_err)?;
                            let country: Option<String> = row.try_get("requested_country").map_err(db_err)?;
                            let ground: Option<String> = row.try_get("refusal_ground").map_err(db_err)?;
                            Ok(StatRow {
                                kind: kind.parse::<RequestKind>().map_err(|e| corrupt("request kind", e))?,
                                direction: direction.parse::<Direction>().map_err(|e| corrupt("direction", e))?,
                                state: state.parse::<RequestState>().map_err(|e| corrupt("request state", e))?,
                                country: country.and_then(|c| CountryCode::parse(&c).ok()),
                                refusal_ground: ground.and_then(|g| g.parse::<RefusalGround>().ok()),
                                created_at: from_millis(row.try_get("created_at").map_err(db_err)?)?,
                                sent_at: opt_millis(row.try_get("sent_at").map_err(db_err)?)?,
                                acknowledged_at: opt_millis(row.try_get("acknowledged_at").map_err(db_err)?)?,
                                first_data_at: opt_millis(row.try_get("first_data_at").map_err(db_err)?)?,
                                closed_at: opt_millis(row.try_get("closed_at").map_err(db_err)?)?,
                            })
                        })
                        .collect()
                }

                async fn request_statistics(&self, from_day: i64, to_day: i64) -> StoreResult<$crate::StatAggregates> {
                    use entraide_domain::request::{CountKey, Measure};
                    let rows = sqlx::query(
                        "SELECT kind, direction, state, country, ground, CAST(SUM(n) AS BIGINT) AS total FROM request_stat_counts \
                         WHERE day >= $1 AND day < $2 GROUP BY kind, direction, state, country, ground",
                    )
                    .bind(from_day)
                    .bind(to_day)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    let mut counts = Vec::with_capacity(rows.len());
                    for row in &rows {
                        let total: i64 = row.try_get("total").map_err(db_err)?;
                        if total <= 0 {
                            continue;
                        }
                        counts.push((
                            CountKey {
                                kind: row.try_get("kind").map_err(db_err)?,
                                direction: row.try_get("direction").map_err(db_err)?,
                                state: row.try_get("state").map_err(db_err)?,
                                country: row.try_get("country").map_err(db_err)?,
                                ground: row.try_get("ground").map_err(db_err)?,
                            },
                            u64::try_from(total).unwrap_or(0),
                        ));
                    }
                    let rows = sqlx::query(
                        "SELECT measure, hours, CAST(SUM(n) AS BIGINT) AS total FROM request_stat_durations \
                         WHERE day >= $1 AND day < $2 GROUP BY measure, hours",
                    )
                    .bind(from_day)
                    .bind(to_day)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    let mut durations = Vec::with_capacity(rows.len());
                    for row in &rows {
                        let measure: String = row.try_get("measure").map_err(db_err)?;
                        let total: i64 = row.try_get("total").map_err(db_err)?;
                        if let Some(m) = Measure::parse(&measure) {
                            if total > 0 {
                                durations.push((m, row.try_get("hours").map_err(db_err)?, u64::try_from(total).unwrap_or(0)));
                            }
                        }
                    }
                    Ok($crate::StatAggregates { counts, durations })
                }

                async fn rebuild_request_statistics(&self) -> StoreResult<u64> {
                    const START: &str = "(CASE WHEN direction = 'outgoing' THEN sent_at ELSE created_at END)";
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    for sql in ["DELETE FROM request_stat_counts", "DELETE FROM request_stat_durations"] {
                        sqlx::query(sql).execute(&mut *tx).await.map_err(db_err)?;
                    }
                    sqlx::query(
                        "INSERT INTO request_stat_counts (day, kind, direction, state, country, ground, n) \
                         SELECT created_at / 86400000, kind, direction, state, COALESCE(requested_country, ''), \
                         COALESCE(refusal_ground, ''), COUNT(*) FROM requests GROUP BY 1, 2, 3, 4, 5, 6",
                    )
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    for (measure, column, answered) in [
                        ("acknowledgement", "acknowledged_at", ""),
                        ("first_data", "first_data_at", ""),
                        ("completion", "closed_at", " AND state = 'answered'"),
                    ] {
                        let sql = format!(
                            "INSERT INTO request_stat_durations (day, measure, hours, n) \
                             SELECT created_at / 86400000, '{measure}', ({column} - {START}) / 3600000, COUNT(*) FROM requests \
                             WHERE {column} IS NOT NULL AND {START} IS NOT NULL AND {column} >= {START}{answered} GROUP BY 1, 3"
                        );
                        sqlx::query(&sql).execute(&mut *tx).await.map_err(db_err)?;
                    }
                    let total = sqlx::query("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS total FROM request_stat_counts")
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    let total: i64 = total.try_get("total").map_err(db_err)?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(u64::try_from(total).unwrap_or(0))
                }

                async fn request_events(&self, request_id: Uuid) -> StoreResult<Vec<RequestEvent>> {
                    let rows = sqlx::query(
                        "SELECT id, request_id, at, actor_id, actor, action, from_state, to_state, detail \
                         FROM request_events WHERE request_id = $1 ORDER BY id",
                    )
                    .bind(request_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    rows.iter()
                        .map(|row| {
                            Ok(RequestEvent {
                                id: row.try_get("id").map_err(db_err)?,
                                request_id: row.try_get("request_id").map_err(db_err)?,
                                at: from_millis(row.try_get("at").map_err(db_err)?)?,
                                actor_id: row.try_get("actor_id").map_err(db_err)?,
                                actor: row.try_get("actor").map_err(db_err)?,
                                action: row.try_get("action").map_err(db_err)?,
                                from_state: row.try_get("from_state").map_err(db_err)?,
                                to_state: row.try_get("to_state").map_err(db_err)?,
                                detail: row.try_get("detail").map_err(db_err)?,
                            })
                        })
                        .collect()
                }
            }

            const ITEM_COLUMNS: &str = "id, case_id, sha256, md5, sha1, size, file_name, description, source, acquired_at, acquired_place, performer, \
                authorisation, exhibit_number, origin, state, legal_hold, retention_until, integrity, verified_at, disposed_at, disposal_reason, \
                created_by, created_at, updated_at";

            const DATE_FORMAT: &[time::format_description::FormatItem<'static>] = time::macros::format_description!("[year]-[month]-[day]");

            fn item_from_row(row: &DbRow) -> StoreResult<EvidenceItem> {
                let size: i64 = row.try_get("size").map_err(db_err)?;
                let source: String = row.try_get("source").map_err(db_err)?;
                let state: String = row.try_get("state").map_err(db_err)?;
                let integrity: String = row.try_get("integrity").map_err(db_err)?;
                let retention: Option<String> = row.try_get("retention_until").map_err(db_err)?;
                Ok(EvidenceItem {
                    id: row.try_get("id").map_err(db_err)?,
                    case_id: row.try_get("case_id").map_err(db_err)?,
                    sha256: row.try_get("sha256").map_err(db_err)?,
                    md5: row.try_get("md5").map_err(db_err)?,
                    sha1: row.try_get("sha1").map_err(db_err)?,
                    size: u64::try_from(size).map_err(|e| corrupt("evidence size", e))?,
                    file_name: row.try_get("file_name").map_err(db_err)?,
                    description: row.try_get("description").map_err(db_err)?,
                    source: source.parse().map_err(|e| corrupt("evidence source", e))?,
                    acquired_at: opt_millis(row.try_get("acquired_at").map_err(db_err)?)?,
                    acquired_place: row.try_get("acquired_place").map_err(db_err)?,
                    performer: row.try_get("performer").map_err(db_err)?,
                    authorisation: row.try_get("authorisation").map_err(db_err)?,
                    exhibit_number: row.try_get("exhibit_number").map_err(db_err)?,
                    origin: row.try_get("origin").map_err(db_err)?,
                    state: state.parse().map_err(|e| corrupt("evidence state", e))?,
                    legal_hold: row.try_get("legal_hold").map_err(db_err)?,
                    retention_until: retention
                        .map(|d| time::Date::parse(&d, DATE_FORMAT).map_err(|e| corrupt("retention date", e)))
                        .transpose()?,
                    integrity: integrity.parse().map_err(|e| corrupt("evidence integrity", e))?,
                    verified_at: opt_millis(row.try_get("verified_at").map_err(db_err)?)?,
                    disposed_at: opt_millis(row.try_get("disposed_at").map_err(db_err)?)?,
                    disposal_reason: row.try_get("disposal_reason").map_err(db_err)?,
                    created_by: row.try_get("created_by").map_err(db_err)?,
                    created_at: from_millis(row.try_get("created_at").map_err(db_err)?)?,
                    updated_at: from_millis(row.try_get("updated_at").map_err(db_err)?)?,
                })
            }

            fn retention_text(item: &EvidenceItem) -> StoreResult<Option<String>> {
                item.retention_until
                    .map(|d| d.format(DATE_FORMAT).map_err(|e| corrupt("retention date", e)))
                    .transpose()
            }

            const EVENT_COLUMNS: &str = "leaf_index, id, case_id, item_id, kind, at, actor_id, actor, record, leaf_hash";

            fn event_from_row(row: &DbRow) -> StoreResult<CustodyEvent> {
                let index: i64 = row.try_get("leaf_index").map_err(db_err)?;
                let kind: String = row.try_get("kind").map_err(db_err)?;
                Ok(CustodyEvent {
                    leaf_index: u64::try_from(index).map_err(|e| corrupt("leaf index", e))?,
                    event: NewCustodyEvent {
                        id: row.try_get("id").map_err(db_err)?,
                        case_id: row.try_get("case_id").map_err(db_err)?,
                        item_id: row.try_get("item_id").map_err(db_err)?,
                        kind: kind.parse().map_err(|e| corrupt("custody event kind", e))?,
                        at: from_millis(row.try_get("at").map_err(db_err)?)?,
                        actor_id: row.try_get("actor_id").map_err(db_err)?,
                        actor: row.try_get("actor").map_err(db_err)?,
                        record: row.try_get("record").map_err(db_err)?,
                        leaf_hash: row.try_get("leaf_hash").map_err(db_err)?,
                    },
                })
            }

            const HEAD_COLUMNS: &str = "tree_size, root_hash, signed_at, signature, public_key, exported";

            fn head_from_row(row: &DbRow) -> StoreResult<StoredTreeHead> {
                let size: i64 = row.try_get("tree_size").map_err(db_err)?;
                Ok(StoredTreeHead {
                    tree_size: u64::try_from(size).map_err(|e| corrupt("tree size", e))?,
                    root_hash: row.try_get("root_hash").map_err(db_err)?,
                    signed_at: from_millis(row.try_get("signed_at").map_err(db_err)?)?,
                    signature: row.try_get("signature").map_err(db_err)?,
                    public_key: row.try_get("public_key").map_err(db_err)?,
                    exported: row.try_get("exported").map_err(db_err)?,
                })
            }

            fn upload_from_row(row: &DbRow) -> StoreResult<EvidenceUpload> {
                let size: i64 = row.try_get("size").map_err(db_err)?;
                let received: i64 = row.try_get("received").map_err(db_err)?;
                Ok(EvidenceUpload {
                    id: row.try_get("id").map_err(db_err)?,
                    case_id: row.try_get("case_id").map_err(db_err)?,
                    created_by: row.try_get("created_by").map_err(db_err)?,
                    created_at: from_millis(row.try_get("created_at").map_err(db_err)?)?,
                    size: u64::try_from(size).map_err(|e| corrupt("upload size", e))?,
                    received: u64::try_from(received).map_err(|e| corrupt("upload offset", e))?,
                    metadata: row.try_get("metadata").map_err(db_err)?,
                })
            }

            fn to_i64(v: u64, what: &str) -> StoreResult<i64> {
                i64::try_from(v).map_err(|e| corrupt(what, e))
            }

            /// One writer of the custody log at a time, on both databases and
            /// across replicas: the transaction first updates the single row of
            /// `custody_log_writer` (which also makes a SQLite transaction a
            /// writer from its first statement), then reads where the log ends.
            /// Returns the next leaf index.
            async fn lock_custody_log(tx: &mut sqlx::Transaction<'_, Db>) -> StoreResult<u64> {
                sqlx::query("UPDATE custody_log_writer SET writes = writes + 1 WHERE id = 1")
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
                let next: Option<i64> = sqlx::query_scalar("SELECT MAX(leaf_index) + 1 FROM custody_events")
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(db_err)?;
                Ok(next.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
            }

            /// Rows per INSERT statement (ten parameters each).
            const EVENT_ROWS_PER_STATEMENT: usize = 500;

            /// Appends events at `*next` onwards, several rows per statement;
            /// returns their indices and advances `*next`.
            async fn insert_custody_events(tx: &mut sqlx::Transaction<'_, Db>, next: &mut u64, events: &[&NewCustodyEvent]) -> StoreResult<Vec<u64>> {
                let mut indices = Vec::with_capacity(events.len());
                for chunk in events.chunks(EVENT_ROWS_PER_STATEMENT) {
                    let first = *next;
                    let mut q = sqlx::QueryBuilder::<Db>::new(
                        "INSERT INTO custody_events (leaf_index, id, case_id, item_id, kind, at, actor_id, actor, record, leaf_hash) ",
                    );
                    let mut index = first;
                    let mut rows = Vec::with_capacity(chunk.len());
                    for e in chunk {
                        rows.push((to_i64(index, "leaf index")?, *e));
                        indices.push(index);
                        index += 1;
                    }
                    q.push_values(rows, |mut b, (i, e)| {
                        b.push_bind(i)
                            .push_bind(e.id)
                            .push_bind(e.case_id)
                            .push_bind(e.item_id)
                            .push_bind(e.kind.as_str())
                            .push_bind(to_millis(e.at))
                            .push_bind(e.actor_id)
                            .push_bind(e.actor.clone())
                            .push_bind(e.record.clone())
                            .push_bind(e.leaf_hash.clone());
                    });
                    q.build().execute(&mut **tx).await.map_err(db_err)?;
                    *next = index;
                }
                Ok(indices)
            }

            async fn insert_item(tx: &mut sqlx::Transaction<'_, Db>, item: &EvidenceItem) -> StoreResult<()> {
                    let sql = format!(
                        "INSERT INTO evidence_items ({ITEM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)"
                    );
                    sqlx::query(&sql)
                        .bind(item.id)
                        .bind(item.case_id)
                        .bind(&item.sha256)
                        .bind(&item.md5)
                        .bind(&item.sha1)
                        .bind(to_i64(item.size, "evidence size")?)
                        .bind(&item.file_name)
                        .bind(&item.description)
                        .bind(item.source.as_str())
                        .bind(item.acquired_at.map(to_millis))
                        .bind(&item.acquired_place)
                        .bind(&item.performer)
                        .bind(&item.authorisation)
                        .bind(&item.exhibit_number)
                        .bind(&item.origin)
                        .bind(item.state.as_str())
                        .bind(item.legal_hold)
                        .bind(retention_text(item)?)
                        .bind(item.integrity.as_str())
                        .bind(item.verified_at.map(to_millis))
                        .bind(item.disposed_at.map(to_millis))
                        .bind(&item.disposal_reason)
                        .bind(item.created_by)
                        .bind(to_millis(item.created_at))
                        .bind(to_millis(item.updated_at))
                        .execute(&mut **tx)
                        .await
                        .map_err(|e| conflict_or(e, "exhibit number"))?;
                    Ok(())
            }

            async fn update_item(tx: &mut sqlx::Transaction<'_, Db>, item: &EvidenceItem) -> StoreResult<()> {
                    let done = sqlx::query(
                        "UPDATE evidence_items SET state = $1, legal_hold = $2, retention_until = $3, integrity = $4, verified_at = $5, \
                         disposed_at = $6, disposal_reason = $7, updated_at = $8 WHERE id = $9",
                    )
                    .bind(item.state.as_str())
                    .bind(item.legal_hold)
                    .bind(retention_text(item)?)
                    .bind(item.integrity.as_str())
                    .bind(item.verified_at.map(to_millis))
                    .bind(item.disposed_at.map(to_millis))
                    .bind(&item.disposal_reason)
                    .bind(to_millis(item.updated_at))
                    .bind(item.id)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_err)?;
                    if done.rows_affected() != 1 {
                        return Err(StoreError::NotFound);
                    }
                    Ok(())
            }

            async fn run_item_job(tx: &mut sqlx::Transaction<'_, Db>, next: &mut u64, job: &CustodyJob) -> StoreResult<Vec<u64>> {
                let (events, audit) = match job {
                    CustodyJob::CreateItem { item, events, audit } => {
                        insert_item(tx, item).await?;
                        (events, Some(audit))
                    }
                    CustodyJob::UpdateItem { item, events, audit } => {
                        update_item(tx, item).await?;
                        (events, audit.as_ref())
                    }
                    CustodyJob::Append { events, audit } => (events, audit.as_ref()),
                };
                let events: Vec<&NewCustodyEvent> = events.iter().collect();
                let indices = insert_custody_events(tx, next, &events).await?;
                if let Some(audit) = audit {
                    insert_audit(&mut **tx, audit).await?;
                }
                Ok(indices)
            }

            /// Writes the queued appends in as few statements as possible and
            /// fills in their jobs' indices.
            async fn flush_appends(
                tx: &mut sqlx::Transaction<'_, Db>,
                next: &mut u64,
                pending: &mut Vec<(usize, &[NewCustodyEvent])>,
                results: &mut [StoreResult<Vec<u64>>],
            ) -> StoreResult<()> {
                if pending.is_empty() {
                    return Ok(());
                }
                let all: Vec<&NewCustodyEvent> = pending.iter().flat_map(|(_, events)| events.iter()).collect();
                let indices = insert_custody_events(tx, next, &all).await?;
                let mut at = 0;
                for (job, events) in pending.drain(..) {
                    if let Some(slot) = results.get_mut(job) {
                        *slot = Ok(indices.get(at..at + events.len()).map(<[u64]>::to_vec).unwrap_or_default());
                    }
                    at += events.len();
                }
                Ok(())
            }

            #[$crate::async_trait]
            impl $crate::EvidenceStore for $store {
                async fn create_evidence_item(&self, item: &EvidenceItem, events: &[NewCustodyEvent], audit: &NewAuditEntry) -> StoreResult<Vec<u64>> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    let mut next = lock_custody_log(&mut tx).await?;
                    insert_item(&mut tx, item).await?;
                    let events: Vec<&NewCustodyEvent> = events.iter().collect();
                    let indices = insert_custody_events(&mut tx, &mut next, &events).await?;
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(indices)
                }

                async fn apply_custody_jobs(&self, jobs: &[CustodyJob]) -> StoreResult<Vec<StoreResult<Vec<u64>>>> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    let mut next = lock_custody_log(&mut tx).await?;
                    let mut results: Vec<StoreResult<Vec<u64>>> = Vec::with_capacity(jobs.len());
                    // Consecutive appends share statements; a change to an item
                    // gets its own savepoint, so that its failure stays its own.
                    let mut pending: Vec<(usize, &[NewCustodyEvent])> = Vec::new();
                    for (i, job) in jobs.iter().enumerate() {
                        match job {
                            CustodyJob::Append { events, audit } => {
                                results.push(Ok(Vec::new()));
                                pending.push((i, events.as_slice()));
                                if let Some(audit) = audit {
                                    insert_audit(&mut *tx, audit).await?;
                                }
                            }
                            CustodyJob::CreateItem { .. } | CustodyJob::UpdateItem { .. } => {
                                flush_appends(&mut tx, &mut next, &mut pending, &mut results).await?;
                                let mut sp = sqlx::Acquire::begin(&mut *tx).await.map_err(db_err)?;
                                let mut sp_next = next;
                                let result = run_item_job(&mut sp, &mut sp_next, job).await;
                                match &result {
                                    Ok(_) => {
                                        sp.commit().await.map_err(db_err)?;
                                        next = sp_next;
                                    }
                                    Err(_) => sp.rollback().await.map_err(db_err)?,
                                }
                                results.push(result);
                            }
                        }
                    }
                    flush_appends(&mut tx, &mut next, &mut pending, &mut results).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(results)
                }

                async fn evidence_item(&self, id: Uuid) -> StoreResult<Option<EvidenceItem>> {
                    let sql = format!("SELECT {ITEM_COLUMNS} FROM evidence_items WHERE id = $1");
                    sqlx::query(&sql)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?
                        .as_ref()
                        .map(item_from_row)
                        .transpose()
                }

                async fn evidence_in_case(&self, case_id: Uuid) -> StoreResult<Vec<EvidenceItem>> {
                    let sql = format!("SELECT {ITEM_COLUMNS} FROM evidence_items WHERE case_id = $1 ORDER BY created_at, id");
                    sqlx::query(&sql)
                        .bind(case_id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?
                        .iter()
                        .map(item_from_row)
                        .collect()
                }

                async fn all_evidence(&self) -> StoreResult<Vec<EvidenceItem>> {
                    let sql = format!("SELECT {ITEM_COLUMNS} FROM evidence_items ORDER BY created_at, id");
                    sqlx::query(&sql)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?
                        .iter()
                        .map(item_from_row)
                        .collect()
                }

                async fn count_live_evidence_with_hash(&self, sha256: &str) -> StoreResult<u64> {
                    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM evidence_items WHERE sha256 = $1 AND state <> 'disposed'")
                        .bind(sha256)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(db_err)?;
                    Ok(u64::try_from(n).unwrap_or(0))
                }

                async fn update_evidence_item(&self, item: &EvidenceItem, events: &[NewCustodyEvent], audit: Option<&NewAuditEntry>) -> StoreResult<Vec<u64>> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    let mut next = lock_custody_log(&mut tx).await?;
                    update_item(&mut tx, item).await?;
                    let events: Vec<&NewCustodyEvent> = events.iter().collect();
                    let indices = insert_custody_events(&mut tx, &mut next, &events).await?;
                    if let Some(audit) = audit {
                        insert_audit(&mut *tx, audit).await?;
                    }
                    tx.commit().await.map_err(db_err)?;
                    Ok(indices)
                }

                async fn append_custody_events(&self, events: &[NewCustodyEvent], audit: Option<&NewAuditEntry>) -> StoreResult<Vec<u64>> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    let mut next = lock_custody_log(&mut tx).await?;
                    let events: Vec<&NewCustodyEvent> = events.iter().collect();
                    let indices = insert_custody_events(&mut tx, &mut next, &events).await?;
                    if let Some(audit) = audit {
                        insert_audit(&mut *tx, audit).await?;
                    }
                    tx.commit().await.map_err(db_err)?;
                    Ok(indices)
                }

                async fn custody_events_for_item(&self, item_id: Uuid) -> StoreResult<Vec<CustodyEvent>> {
                    let sql = format!("SELECT {EVENT_COLUMNS} FROM custody_events WHERE item_id = $1 ORDER BY leaf_index");
                    sqlx::query(&sql)
                        .bind(item_id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?
                        .iter()
                        .map(event_from_row)
                        .collect()
                }

                async fn custody_events_for_case(&self, case_id: Uuid) -> StoreResult<Vec<CustodyEvent>> {
                    let sql = format!("SELECT {EVENT_COLUMNS} FROM custody_events WHERE case_id = $1 ORDER BY leaf_index");
                    sqlx::query(&sql)
                        .bind(case_id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?
                        .iter()
                        .map(event_from_row)
                        .collect()
                }

                async fn custody_leaf_hashes(&self, from: u64, limit: u64) -> StoreResult<Vec<String>> {
                    let rows: Vec<(i64, String)> = sqlx::query_as(
                        "SELECT leaf_index, leaf_hash FROM custody_events WHERE leaf_index >= $1 ORDER BY leaf_index LIMIT $2",
                    )
                    .bind(to_i64(from, "leaf index")?)
                    .bind(to_i64(limit, "limit")?)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    let mut expected = from;
                    let mut hashes = Vec::with_capacity(rows.len());
                    for (index, hash) in rows {
                        if u64::try_from(index).ok() != Some(expected) {
                            return Err(StoreError::Corrupt(format!("custody log has a gap at leaf {expected}")));
                        }
                        expected += 1;
                        hashes.push(hash);
                    }
                    Ok(hashes)
                }

                async fn custody_log_size(&self) -> StoreResult<u64> {
                    let n: Option<i64> = sqlx::query_scalar("SELECT MAX(leaf_index) + 1 FROM custody_events")
                        .fetch_one(&self.pool)
                        .await
                        .map_err(db_err)?;
                    Ok(n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
                }

                async fn store_tree_head(&self, h: &StoredTreeHead) -> StoreResult<()> {
                    sqlx::query(
                        "INSERT INTO custody_tree_heads (tree_size, root_hash, signed_at, signature, public_key, exported) \
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tree_size) DO NOTHING",
                    )
                    .bind(to_i64(h.tree_size, "tree size")?)
                    .bind(&h.root_hash)
                    .bind(to_millis(h.signed_at))
                    .bind(&h.signature)
                    .bind(&h.public_key)
                    .bind(h.exported)
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                    Ok(())
                }

                async fn latest_tree_head(&self) -> StoreResult<Option<StoredTreeHead>> {
                    let sql = format!("SELECT {HEAD_COLUMNS} FROM custody_tree_heads ORDER BY tree_size DESC LIMIT 1");
                    sqlx::query(&sql)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?
                        .as_ref()
                        .map(head_from_row)
                        .transpose()
                }

                async fn tree_head(&self, tree_size: u64) -> StoreResult<Option<StoredTreeHead>> {
                    let sql = format!("SELECT {HEAD_COLUMNS} FROM custody_tree_heads WHERE tree_size = $1");
                    sqlx::query(&sql)
                        .bind(to_i64(tree_size, "tree size")?)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?
                        .as_ref()
                        .map(head_from_row)
                        .transpose()
                }

                async fn exported_tree_heads(&self) -> StoreResult<Vec<StoredTreeHead>> {
                    let sql = format!("SELECT {HEAD_COLUMNS} FROM custody_tree_heads WHERE exported = $1 ORDER BY tree_size");
                    sqlx::query(&sql)
                        .bind(true)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?
                        .iter()
                        .map(head_from_row)
                        .collect()
                }

                async fn mark_tree_head_exported(&self, tree_size: u64) -> StoreResult<()> {
                    sqlx::query("UPDATE custody_tree_heads SET exported = $1 WHERE tree_size = $2")
                        .bind(true)
                        .bind(to_i64(tree_size, "tree size")?)
                        .execute(&self.pool)
                        .await
                        .map_err(db_err)?;
                    Ok(())
                }

                async fn foreign_tree_heads(&self, public_key: &str) -> StoreResult<Vec<ForeignTreeHead>> {
                    let rows = sqlx::query(
                        "SELECT public_key, tree_size, root_hash, node_id, signed_at, signature, received_at FROM foreign_tree_heads \
                         WHERE public_key = $1 ORDER BY tree_size",
                    )
                    .bind(public_key)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    rows.iter()
                        .map(|row| {
                            let size: i64 = row.try_get("tree_size").map_err(db_err)?;
                            Ok(ForeignTreeHead {
                                public_key: row.try_get("public_key").map_err(db_err)?,
                                tree_size: u64::try_from(size).map_err(|e| corrupt("tree size", e))?,
                                root_hash: row.try_get("root_hash").map_err(db_err)?,
                                node_id: row.try_get("node_id").map_err(db_err)?,
                                signed_at: opt_millis(row.try_get("signed_at").map_err(db_err)?)?,
                                signature: row.try_get("signature").map_err(db_err)?,
                                received_at: from_millis(row.try_get("received_at").map_err(db_err)?)?,
                            })
                        })
                        .collect()
                }

                async fn store_foreign_tree_head(&self, h: &ForeignTreeHead) -> StoreResult<()> {
                    sqlx::query(
                        "INSERT INTO foreign_tree_heads (public_key, tree_size, root_hash, node_id, signed_at, signature, received_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (public_key, tree_size) DO NOTHING",
                    )
                    .bind(&h.public_key)
                    .bind(to_i64(h.tree_size, "tree size")?)
                    .bind(&h.root_hash)
                    .bind(&h.node_id)
                    .bind(h.signed_at.map(to_millis))
                    .bind(&h.signature)
                    .bind(to_millis(h.received_at))
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                    Ok(())
                }

                async fn create_upload(&self, u: &EvidenceUpload) -> StoreResult<()> {
                    sqlx::query(
                        "INSERT INTO evidence_uploads (id, case_id, created_by, created_at, size, received, metadata) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(u.id)
                    .bind(u.case_id)
                    .bind(u.created_by)
                    .bind(to_millis(u.created_at))
                    .bind(to_i64(u.size, "upload size")?)
                    .bind(to_i64(u.received, "upload offset")?)
                    .bind(&u.metadata)
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                    Ok(())
                }

                async fn upload(&self, id: Uuid) -> StoreResult<Option<EvidenceUpload>> {
                    sqlx::query("SELECT id, case_id, created_by, created_at, size, received, metadata FROM evidence_uploads WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?
                        .as_ref()
                        .map(upload_from_row)
                        .transpose()
                }

                async fn advance_upload(&self, id: Uuid, from: u64, to: u64) -> StoreResult<bool> {
                    let done = sqlx::query("UPDATE evidence_uploads SET received = $1 WHERE id = $2 AND received = $3")
                        .bind(to_i64(to, "upload offset")?)
                        .bind(id)
                        .bind(to_i64(from, "upload offset")?)
                        .execute(&self.pool)
                        .await
                        .map_err(db_err)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn delete_upload(&self, id: Uuid) -> StoreResult<()> {
                    sqlx::query("DELETE FROM evidence_uploads WHERE id = $1")
                        .bind(id)
                        .execute(&self.pool)
                        .await
                        .map_err(db_err)?;
                    Ok(())
                }
            }

            const PEER_COLUMNS: &str = "node_id, base_url, organisation, country, kind, signing_key, signing_fingerprint, encryption_key, document, signature, status, added_at, updated_at, next_signing_key, key_valid_until";

            fn peer_from_row(row: &DbRow) -> StoreResult<Peer> {
                Ok(Peer {
                    node_id: row.try_get("node_id").map_err(db_err)?,
                    base_url: row.try_get("base_url").map_err(db_err)?,
                    organisation: row.try_get("organisation").map_err(db_err)?,
                    country: row.try_get("country").map_err(db_err)?,
                    kind: row.try_get("kind").map_err(db_err)?,
                    signing_key: row.try_get("signing_key").map_err(db_err)?,
                    signing_fingerprint: row.try_get("signing_fingerprint").map_err(db_err)?,
                    encryption_key: row.try_get("encryption_key").map_err(db_err)?,
                    document: row.try_get("document").map_err(db_err)?,
                    signature: row.try_get("signature").map_err(db_err)?,
                    status: row.try_get("status").map_err(db_err)?,
                    added_at: from_millis(row.try_get("added_at").map_err(db_err)?)?,
                    updated_at: from_millis(row.try_get("updated_at").map_err(db_err)?)?,
                    next_signing_key: row.try_get("next_signing_key").map_err(db_err)?,
                    key_valid_until: opt_millis(row.try_get("key_valid_until").map_err(db_err)?)?,
                })
            }

            fn knowledge_from_row(row: &DbRow) -> StoreResult<KnowledgeRow> {
                Ok(KnowledgeRow {
                    id: row.try_get("id").map_err(db_err)?,
                    unit: row.try_get("unit").map_err(db_err)?,
                    kind: row.try_get("kind").map_err(db_err)?,
                    instrument: row.try_get("instrument").map_err(db_err)?,
                    jurisdiction: row.try_get("jurisdiction").map_err(db_err)?,
                    position: row.try_get("position").map_err(db_err)?,
                    body: row.try_get("body").map_err(db_err)?,
                })
            }

            const KNOWLEDGE_COLUMNS: &str = "id, unit, kind, instrument, jurisdiction, position, body";

            #[$crate::async_trait]
            impl $crate::KnowledgeStore for $store {
                async fn replace_knowledge(
                    &self,
                    units: &[String],
                    rows: &[KnowledgeRow],
                    audit: &NewAuditEntry,
                ) -> StoreResult<i64> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    // One import at a time: the state row is locked first.
                    sqlx::query("UPDATE knowledge_state SET generation = generation WHERE id = 1")
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    for unit in units {
                        sqlx::query("DELETE FROM knowledge_documents WHERE unit = $1")
                            .bind(unit)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_err)?;
                    }
                    let now = to_millis(OffsetDateTime::now_utc());
                    for chunk in rows.chunks(400) {
                        let mut sql = String::from(
                            "INSERT INTO knowledge_documents (id, unit, kind, instrument, jurisdiction, position, body, updated_at) VALUES ",
                        );
                        for i in 0..chunk.len() {
                            let b = i * 8;
                            if i > 0 {
                                sql.push(',');
                            }
                            sql.push_str(&format!(
                                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                                b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8
                            ));
                        }
                        let mut q = sqlx::query(&sql);
                        for r in chunk {
                            q = q
                                .bind(&r.id)
                                .bind(&r.unit)
                                .bind(&r.kind)
                                .bind(&r.instrument)
                                .bind(&r.jurisdiction)
                                .bind(r.position)
                                .bind(&r.body)
                                .bind(now);
                        }
                        q.execute(&mut *tx)
                            .await
                            .map_err(|e| conflict_or(e, "document identifier"))?;
                    }
                    let generation: i64 = sqlx::query_scalar(
                        "UPDATE knowledge_state SET generation = generation + 1 WHERE id = 1 RETURNING generation",
                    )
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(generation)
                }

                async fn knowledge_generation(&self) -> StoreResult<i64> {
                    sqlx::query_scalar("SELECT generation FROM knowledge_state WHERE id = 1")
                        .fetch_one(&self.pool)
                        .await
                        .map_err(db_err)
                }

                async fn knowledge_document(&self, id: &str) -> StoreResult<Option<KnowledgeRow>> {
                    let row = sqlx::query(&format!(
                        "SELECT {KNOWLEDGE_COLUMNS} FROM knowledge_documents WHERE id = $1"
                    ))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?;
                    row.as_ref().map(knowledge_from_row).transpose()
                }

                async fn knowledge_articles(&self, instrument: &str) -> StoreResult<Vec<KnowledgeRow>> {
                    let rows = sqlx::query(&format!(
                        "SELECT {KNOWLEDGE_COLUMNS} FROM knowledge_documents WHERE instrument = $1 ORDER BY position"
                    ))
                    .bind(instrument)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    rows.iter().map(knowledge_from_row).collect()
                }

                async fn knowledge_of_kind(&self, kind: &str) -> StoreResult<Vec<KnowledgeRow>> {
                    let rows = sqlx::query(&format!(
                        "SELECT {KNOWLEDGE_COLUMNS} FROM knowledge_documents WHERE kind = $1 AND instrument IS NULL ORDER BY id"
                    ))
                    .bind(kind)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    rows.iter().map(knowledge_from_row).collect()
                }

                async fn knowledge_page(&self, after: &str, limit: i64) -> StoreResult<Vec<KnowledgeRow>> {
                    let rows = sqlx::query(&format!(
                        "SELECT {KNOWLEDGE_COLUMNS} FROM knowledge_documents WHERE id > $1 ORDER BY id LIMIT $2"
                    ))
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    rows.iter().map(knowledge_from_row).collect()
                }

                async fn knowledge_counts(&self) -> StoreResult<Vec<(String, i64)>> {
                    let rows = sqlx::query(
                        "SELECT kind, COUNT(*) AS n FROM knowledge_documents GROUP BY kind ORDER BY kind",
                    )
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?;
                    rows.iter()
                        .map(|r| Ok((r.try_get("kind").map_err(db_err)?, r.try_get("n").map_err(db_err)?)))
                        .collect()
                }
            }

            #[$crate::async_trait]
            impl $crate::PeerStore for $store {
                async fn set_peer_next_key(&self, node_id: &str, next_key: &str, valid_until: OffsetDateTime, audit: &NewAuditEntry) -> StoreResult<()> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    sqlx::query("UPDATE peers SET next_signing_key = $1, key_valid_until = $2 WHERE node_id = $3")
                        .bind(next_key)
                        .bind(to_millis(valid_until))
                        .bind(node_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn promote_peer_key(&self, node_id: &str, fingerprint: &str, at: OffsetDateTime, audit: &NewAuditEntry) -> StoreResult<()> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    sqlx::query(
                        "UPDATE peers SET signing_key = next_signing_key, signing_fingerprint = $1, next_signing_key = NULL, \
                         key_valid_until = NULL, updated_at = $2 WHERE node_id = $3 AND next_signing_key IS NOT NULL",
                    )
                    .bind(fingerprint)
                    .bind(to_millis(at))
                    .bind(node_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn add_peer(&self, p: &Peer, audit: &NewAuditEntry) -> StoreResult<()> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    let sql = format!("INSERT INTO peers ({PEER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)");
                    sqlx::query(&sql)
                        .bind(&p.node_id)
                        .bind(&p.base_url)
                        .bind(&p.organisation)
                        .bind(&p.country)
                        .bind(&p.kind)
                        .bind(&p.signing_key)
                        .bind(&p.signing_fingerprint)
                        .bind(&p.encryption_key)
                        .bind(&p.document)
                        .bind(&p.signature)
                        .bind(&p.status)
                        .bind(to_millis(p.added_at))
                        .bind(to_millis(p.updated_at))
                        .bind(&p.next_signing_key)
                        .bind(p.key_valid_until.map(to_millis))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| conflict_or(e, "peer"))?;
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn peers(&self) -> StoreResult<Vec<Peer>> {
                    let sql = format!("SELECT {PEER_COLUMNS} FROM peers ORDER BY node_id");
                    sqlx::query(&sql)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?
                        .iter()
                        .map(peer_from_row)
                        .collect()
                }

                async fn peer(&self, node_id: &str) -> StoreResult<Option<Peer>> {
                    let sql = format!("SELECT {PEER_COLUMNS} FROM peers WHERE node_id = $1");
                    sqlx::query(&sql)
                        .bind(node_id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?
                        .as_ref()
                        .map(peer_from_row)
                        .transpose()
                }

                async fn set_peer_status(&self, node_id: &str, status: &str, at: OffsetDateTime, audit: &NewAuditEntry) -> StoreResult<bool> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    let done = sqlx::query("UPDATE peers SET status = $1, updated_at = $2 WHERE node_id = $3")
                        .bind(status)
                        .bind(to_millis(at))
                        .bind(node_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    if done.rows_affected() == 0 {
                        return Ok(false);
                    }
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(true)
                }

                async fn remove_peer(&self, node_id: &str, audit: &NewAuditEntry) -> StoreResult<bool> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    let done = sqlx::query("DELETE FROM peers WHERE node_id = $1")
                        .bind(node_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    if done.rows_affected() == 0 {
                        return Ok(false);
                    }
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(true)
                }
            }

            const OUTBOX_COLUMNS: &str = "message_id, recipient, message_type, status, attempts, next_attempt_at, last_error, receipt, retrieval_receipt, created_at, expires_at, delivered_at";
            /// The envelope lives in `outbox_envelopes` (written once; the
            /// message's row changes on every claim and delivery).
            const OUTBOX_SELECT: &str = "SELECT o.message_id, o.recipient, o.message_type, e.envelope, o.status, o.attempts, o.next_attempt_at, \
                o.last_error, o.receipt, o.retrieval_receipt, o.created_at, o.expires_at, o.delivered_at \
                FROM outbox_messages o JOIN outbox_envelopes e ON e.message_id = o.message_id";

            fn outbox_from_row(row: &DbRow) -> StoreResult<OutboxMessage> {
                let attempts: i64 = row.try_get("attempts").map_err(db_err)?;
                Ok(OutboxMessage {
                    message_id: row.try_get("message_id").map_err(db_err)?,
                    recipient: row.try_get("recipient").map_err(db_err)?,
                    message_type: row.try_get("message_type").map_err(db_err)?,
                    envelope: row.try_get("envelope").map_err(db_err)?,
                    status: row.try_get("status").map_err(db_err)?,
                    attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    next_attempt_at: from_millis(row.try_get("next_attempt_at").map_err(db_err)?)?,
                    last_error: row.try_get("last_error").map_err(db_err)?,
                    receipt: row.try_get("receipt").map_err(db_err)?,
                    retrieval_receipt: row.try_get("retrieval_receipt").map_err(db_err)?,
                    created_at: from_millis(row.try_get("created_at").map_err(db_err)?)?,
                    expires_at: from_millis(row.try_get("expires_at").map_err(db_err)?)?,
                    delivered_at: opt_millis(row.try_get("delivered_at").map_err(db_err)?)?,
                })
            }

            const INBOX_COLUMNS: &str = "message_id, sender, message_type, envelope, receipt, received_at, retrieved_at, retrieved_by";

            fn inbox_from_row(row: &DbRow) -> StoreResult<InboxMessage> {
                Ok(InboxMessage {
                    message_id: row.try_get("message_id").map_err(db_err)?,
                    sender: row.try_get("sender").map_err(db_err)?,
                    message_type: row.try_get("message_type").map_err(db_err)?,
                    envelope: row.try_get("envelope").map_err(db_err)?,
                    receipt: row.try_get("receipt").map_err(db_err)?,
                    received_at: from_millis(row.try_get("received_at").map_err(db_err)?)?,
                    retrieved_at: opt_millis(row.try_get("retrieved_at").map_err(db_err)?)?,
                    retrieved_by: row.try_get("retrieved_by").map_err(db_err)?,
                })
            }

            #[$crate::async_trait]
            impl $crate::MessageStore for $store {
                async fn enqueue_outbox(&self, m: &OutboxMessage, audit: &NewAuditEntry) -> StoreResult<()> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    let sql = format!("INSERT INTO outbox_messages ({OUTBOX_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)");
                    sqlx::query(&sql)
                        .bind(m.message_id)
                        .bind(&m.recipient)
                        .bind(&m.message_type)
                        .bind(&m.status)
                        .bind(i64::from(m.attempts))
                        .bind(to_millis(m.next_attempt_at))
                        .bind(&m.last_error)
                        .bind(&m.receipt)
                        .bind(&m.retrieval_receipt)
                        .bind(to_millis(m.created_at))
                        .bind(to_millis(m.expires_at))
                        .bind(m.delivered_at.map(to_millis))
                        .execute(&mut *tx)
                        .await
                        .map_err(|e| conflict_or(e, "message"))?;
                    sqlx::query("INSERT INTO outbox_envelopes (message_id, envelope) VALUES ($1, $2)")
                        .bind(m.message_id)
                        .bind(&m.envelope)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn outbox_message(&self, id: Uuid) -> StoreResult<Option<OutboxMessage>> {
                    let sql = format!("{OUTBOX_SELECT} WHERE o.message_id = $1");
                    sqlx::query(&sql)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?
                        .as_ref()
                        .map(outbox_from_row)
                        .transpose()
                }

                async fn outbox_messages(&self, ids: &[Uuid], max_envelope: usize) -> StoreResult<Vec<OutboxMessage>> {
                    if ids.is_empty() {
                        return Ok(Vec::new());
                    }
                    let marks: Vec<String> = (2..=ids.len() + 1).map(|i| format!("${i}")).collect();
                    let sql = format!(
                        "{OUTBOX_SELECT} WHERE length(e.envelope) <= $1 AND o.message_id IN ({})",
                        marks.join(", ")
                    );
                    let mut q = sqlx::query(&sql).bind(i64::try_from(max_envelope).unwrap_or(i64::MAX));
                    for id in ids {
                        q = q.bind(*id);
                    }
                    let mut found: std::collections::HashMap<Uuid, OutboxMessage> = q
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?
                        .iter()
                        .map(outbox_from_row)
                        .map(|m| m.map(|m| (m.message_id, m)))
                        .collect::<StoreResult<_>>()?;
                    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
                }

                async fn outbox(&self, limit: u32) -> StoreResult<Vec<OutboxMessage>> {
                    let sql = format!("{OUTBOX_SELECT} ORDER BY o.seq DESC LIMIT $1");
                    sqlx::query(&sql)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?
                        .iter()
                        .map(outbox_from_row)
                        .collect()
                }

                async fn claim_outbox(&self, now: OffsetDateTime, lease_until: OffsetDateTime, peers: u32, per_peer: u32) -> StoreResult<Vec<(Uuid, String)>> {
                    // Each peer's oldest pending message, if due and free.
                    let heads: Vec<(Uuid, String, i64)> = sqlx::query(
                        "SELECT o.message_id, o.recipient, o.seq FROM outbox_messages o WHERE o.seq IN \
                         (SELECT MIN(p.seq) FROM outbox_messages p WHERE p.status = 'pending' GROUP BY p.recipient) \
                         AND o.next_attempt_at <= $1 AND (o.claimed_until IS NULL OR o.claimed_until < $2) ORDER BY o.seq LIMIT $3",
                    )
                    .bind(to_millis(now))
                    .bind(to_millis(now))
                    .bind(i64::from(peers))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_err)?
                    .iter()
                    .map(|row| Ok((row.try_get(0).map_err(db_err)?, row.try_get(1).map_err(db_err)?, row.try_get(2).map_err(db_err)?)))
                    .collect::<StoreResult<_>>()?;
                    let mut claimed = Vec::new();
                    for (head, recipient, seq) in heads {
                        let won = sqlx::query(
                            "UPDATE outbox_messages SET claimed_until = $1 WHERE message_id = $2 AND status = 'pending' \
                             AND (claimed_until IS NULL OR claimed_until < $3)",
                        )
                        .bind(to_millis(lease_until))
                        .bind(head)
                        .bind(to_millis(now))
                        .execute(&self.pool)
                        .await
                        .map_err(db_err)?;
                        if won.rows_affected() != 1 {
                            continue; // another replica has this peer
                        }
                        claimed.push((head, recipient.clone()));
                        if per_peer <= 1 {
                            continue;
                        }
                        // The peer is ours while we hold its oldest message:
                        // the ones after it come along, in order.
                        sqlx::query(
                            "UPDATE outbox_messages SET claimed_until = $1 WHERE seq IN \
                             (SELECT seq FROM outbox_messages WHERE recipient = $2 AND status = 'pending' AND seq > $3 ORDER BY seq LIMIT $4)",
                        )
                        .bind(to_millis(lease_until))
                        .bind(&recipient)
                        .bind(seq)
                        .bind(i64::from(per_peer - 1))
                        .execute(&self.pool)
                        .await
                        .map_err(db_err)?;
                        let rest = sqlx::query(
                            "SELECT message_id FROM outbox_messages WHERE recipient = $1 AND status = 'pending' \
                             AND seq > $2 AND claimed_until = $3 ORDER BY seq",
                        )
                        .bind(&recipient)
                        .bind(seq)
                        .bind(to_millis(lease_until))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?;
                        for row in rest {
                            claimed.push((row.try_get(0).map_err(db_err)?, recipient.clone()));
                        }
                    }
                    Ok(claimed)
                }

                async fn release_outbox(&self, recipient: &str, lease_until: OffsetDateTime) -> StoreResult<()> {
                    sqlx::query(
                        "UPDATE outbox_messages SET claimed_until = NULL WHERE recipient = $1 AND status = 'pending' AND claimed_until = $2",
                    )
                    .bind(recipient)
                    .bind(to_millis(lease_until))
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                    Ok(())
                }

                async fn outbox_delivered(&self, id: Uuid, receipt: &str, at: OffsetDateTime) -> StoreResult<()> {
                    self.outbox_delivered_many(&[(id, receipt.to_owned())], at).await
                }

                async fn outbox_delivered_many(&self, delivered: &[(Uuid, String)], at: OffsetDateTime) -> StoreResult<()> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    for (id, receipt) in delivered {
                        sqlx::query(
                            "UPDATE outbox_messages SET status = 'delivered', receipt = $1, delivered_at = $2, claimed_until = NULL, \
                             attempts = attempts + 1 WHERE message_id = $3",
                        )
                        .bind(receipt)
                        .bind(to_millis(at))
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_err)?;
                    }
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn outbox_retry(&self, id: Uuid, attempts: u32, next: OffsetDateTime, error: &str) -> StoreResult<()> {
                    sqlx::query(
                        "UPDATE outbox_messages SET attempts = $1, next_attempt_at = $2, last_error = $3, claimed_until = NULL \
                         WHERE message_id = $4 AND status = 'pending'",
                    )
                    .bind(i64::from(attempts))
                    .bind(to_millis(next))
                    .bind(error)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                    Ok(())
                }

                async fn outbox_dead(&self, id: Uuid, reason: &str, audit: &NewAuditEntry) -> StoreResult<()> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    sqlx::query(
                        "UPDATE outbox_messages SET status = 'dead', last_error = $1, claimed_until = NULL WHERE message_id = $2",
                    )
                    .bind(reason)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(())
                }

                async fn outbox_retrieved(&self, id: Uuid, receipt: &str) -> StoreResult<bool> {
                    let done = sqlx::query(
                        "UPDATE outbox_messages SET retrieval_receipt = $1 WHERE message_id = $2 AND retrieval_receipt IS NULL",
                    )
                    .bind(receipt)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn insert_inbox(&self, m: &InboxMessage, audit: &NewAuditEntry) -> StoreResult<Option<InboxMessage>> {
                    let stored = self.insert_inbox_many(&[(m.clone(), audit.clone())]).await?;
                    Ok(stored.into_iter().next().flatten())
                }

                async fn insert_inbox_many(&self, items: &[(InboxMessage, NewAuditEntry)]) -> StoreResult<Vec<Option<InboxMessage>>> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    let sql = format!("INSERT INTO inbox_messages ({INBOX_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (message_id) DO NOTHING");
                    let mut seen_before = Vec::with_capacity(items.len());
                    for (m, audit) in items {
                        let done = sqlx::query(&sql)
                            .bind(m.message_id)
                            .bind(&m.sender)
                            .bind(&m.message_type)
                            .bind(&m.envelope)
                            .bind(&m.receipt)
                            .bind(to_millis(m.received_at))
                            .bind(m.retrieved_at.map(to_millis))
                            .bind(&m.retrieved_by)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_err)?;
                        let duplicate = done.rows_affected() == 0;
                        if !duplicate {
                            insert_audit(&mut *tx, audit).await?;
                        }
                        seen_before.push(duplicate);
                    }
                    tx.commit().await.map_err(db_err)?;
                    let mut out = Vec::with_capacity(items.len());
                    for ((m, _), duplicate) in items.iter().zip(seen_before) {
                        out.push(if duplicate { self.inbox_message(m.message_id).await? } else { None });
                    }
                    Ok(out)
                }

                async fn inbox_message(&self, id: Uuid) -> StoreResult<Option<InboxMessage>> {
                    let sql = format!("SELECT {INBOX_COLUMNS} FROM inbox_messages WHERE message_id = $1");
                    sqlx::query(&sql)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db_err)?
                        .as_ref()
                        .map(inbox_from_row)
                        .transpose()
                }

                async fn inbox(&self, limit: u32) -> StoreResult<Vec<InboxMessage>> {
                    let sql = format!("SELECT {INBOX_COLUMNS} FROM inbox_messages ORDER BY received_at DESC LIMIT $1");
                    sqlx::query(&sql)
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db_err)?
                        .iter()
                        .map(inbox_from_row)
                        .collect()
                }

                async fn link_request(&self, request_id: Uuid, peer_node: &str, peer_request_id: Option<Uuid>, at: OffsetDateTime) -> StoreResult<()> {
                    sqlx::query(
                        "INSERT INTO request_links (request_id, peer_node, peer_request_id, created_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (request_id) DO UPDATE SET peer_request_id = COALESCE(request_links.peer_request_id, excluded.peer_request_id)",
                    )
                    .bind(request_id)
                    .bind(peer_node)
                    .bind(peer_request_id)
                    .bind(to_millis(at))
                    .execute(&self.pool)
                    .await
                    .map_err(db_err)?;
                    Ok(())
                }

                async fn request_link(&self, request_id: Uuid) -> StoreResult<Option<(String, Option<Uuid>)>> {
                    let row: Option<(String, Option<Uuid>)> = sqlx::query_as(
                        "SELECT peer_node, peer_request_id FROM request_links WHERE request_id = $1",
                    )
                    .bind(request_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?;
                    Ok(row)
                }

                async fn request_by_link(&self, peer_node: &str, peer_request_id: Uuid) -> StoreResult<Option<Uuid>> {
                    let id: Option<Uuid> = sqlx::query_scalar(
                        "SELECT request_id FROM request_links WHERE peer_node = $1 AND peer_request_id = $2",
                    )
                    .bind(peer_node)
                    .bind(peer_request_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_err)?;
                    Ok(id)
                }

                async fn mark_retrieved(&self, id: Uuid, by: &str, at: OffsetDateTime, audit: &NewAuditEntry) -> StoreResult<bool> {
                    let mut tx = self.pool.begin().await.map_err(db_err)?;
                    let done = sqlx::query(
                        "UPDATE inbox_messages SET retrieved_at = $1, retrieved_by = $2 WHERE message_id = $3 AND retrieved_at IS NULL",
                    )
                    .bind(to_millis(at))
                    .bind(by)
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                    insert_audit(&mut *tx, audit).await?;
                    tx.commit().await.map_err(db_err)?;
                    Ok(done.rows_affected() == 1)
                }
            }

            #[$crate::async_trait]
            impl $crate::Store for $store {
                async fn ping(&self) -> StoreResult<()> {
                    sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ()).map_err(db_err)
                }

                fn backend(&self) -> &'static str {
                    $backend
                }
            }

            #[$crate::async_trait]
            impl $crate::AuditStore for $store {
                async fn append_audit(&self, entry: &NewAuditEntry) -> StoreResult<()> {
                    insert_audit(&self.pool, entry).await
                }

                async fn audit_entries(&self, f: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
                    let mut q = sqlx::QueryBuilder::<Db>::new(
                        "SELECT id, at, actor_id, actor, action, outcome, case_id, target, client_ip, request_id, detail FROM audit_log WHERE 1 = 1",
                    );
                    if let Some(actor) = &f.actor {
                        q.push(" AND LOWER(actor) LIKE ").push_bind(format!("%{}%", actor.to_lowercase().replace(['%', '_'], "")));
                    }
                    if let Some(action) = &f.action {
                        if action.ends_with('.') {
                            q.push(" AND action LIKE ").push_bind(format!("{}%", action.replace(['%', '_'], "")));
                        } else {
                            q.push(" AND action = ").push_bind(action.clone());
                        }
                    }
                    if let Some(outcome) = f.outcome {
                        q.push(" AND outcome = ").push_bind(outcome.as_str());
                    }
                    if let Some(case_id) = f.case_id {
                        q.push(" AND case_id = ").push_bind(case_id);
                    }
                    if let Some(from) = f.from {
                        q.push(" AND at >= ").push_bind(to_millis(from));
                    }
                    if let Some(to) = f.to {
                        q.push(" AND at < ").push_bind(to_millis(to));
                    }
                    if let Some(before) = f.before_id {
                        q.push(" AND id < ").push_bind(before);
                    }
                    q.push(" ORDER BY id DESC LIMIT ").push_bind(i64::from(f.limit.clamp(1, 10_000)));
                    let rows = q.build().fetch_all(&self.pool).await.map_err(db_err)?;
                    rows.iter()
                        .map(|row| {
                            Ok(AuditEntry {
                                id: row.try_get("id").map_err(db_err)?,
                                at: from_millis(row.try_get("at").map_err(db_err)?)?,
                                actor_id: row.try_get("actor_id").map_err(db_err)?,
                                actor: row.try_get("actor").map_err(db_err)?,
                                action: row.try_get("action").map_err(db_err)?,
                                outcome: row.try_get("outcome").map_err(db_err)?,
                                case_id: row.try_get("case_id").map_err(db_err)?,
                                target: row.try_get("target").map_err(db_err)?,
                                client_ip: row.try_get("client_ip").map_err(db_err)?,
                                request_id: row.try_get("request_id").map_err(db_err)?,
                                detail: row.try_get("detail").map_err(db_err)?,
                            })
                        })
                        .collect()
                }
            }
        }
    };
}
