//! `TokenStore`: API tokens, by the hash of their secret (`api_tokens`,
//! joined with `users` for the token and its user in one round trip), and
//! their lineage: a token created with a token names it as its parent and
//! dies with it.

/// The `TokenStore` half of `impl_sql_store!`, expanded inside its
/// `shared_sql` module (whose imports and helpers are in scope here).
#[doc(hidden)]
#[macro_export]
macro_rules! __sql_tokens {
    ($store:ident) => {
        fn token_from_row(row: &DbRow) -> StoreResult<ApiToken> {
            Ok(ApiToken {
                id: row.try_get("id").map_err(db_err)?,
                user_id: row.try_get("user_id").map_err(db_err)?,
                name: row.try_get("name").map_err(db_err)?,
                token_hash: row.try_get("token_hash").map_err(db_err)?,
                parent_token_id: row.try_get("parent_token_id").map_err(db_err)?,
                created_at: from_millis(row.try_get("created_at").map_err(db_err)?)?,
                last_used_at: opt_millis(row.try_get("last_used_at").map_err(db_err)?)?,
                last_used_from: row.try_get("last_used_from").map_err(db_err)?,
                last_used_agent: row.try_get("last_used_agent").map_err(db_err)?,
                revoked_at: opt_millis(row.try_get("revoked_at").map_err(db_err)?)?,
            })
        }

        const TOKEN_COLUMNS: &str = "id, user_id, name, token_hash, parent_token_id, created_at, \
             last_used_at, last_used_from, last_used_agent, revoked_at";

        /// One change at a time to a lineage of tokens, on both databases
        /// and across replicas: the transaction first writes the row of
        /// the lineage's root (to itself), which takes that row's lock on
        /// PostgreSQL and makes a SQLite transaction a writer from its
        /// first statement. A revocation and the creation of a token
        /// derived from the same lineage therefore never interleave: either
        /// the new token exists when the revocation looks for descendants,
        /// or the revocation is seen when the creation checks the lineage
        /// (each later statement reads what the previous holder committed).
        async fn lock_lineage(tx: &mut sqlx::Transaction<'_, Db>, id: Uuid) -> StoreResult<()> {
            sqlx::query(
                "WITH RECURSIVE up (id, parent_token_id) AS ( \
                   SELECT id, parent_token_id FROM api_tokens WHERE id = $1 \
                   UNION SELECT t.id, t.parent_token_id FROM api_tokens t JOIN up ON t.id = up.parent_token_id) \
                 UPDATE api_tokens SET revoked_at = revoked_at \
                 WHERE id IN (SELECT id FROM up WHERE parent_token_id IS NULL)",
            )
            .bind(id)
            .execute(&mut **tx)
            .await
            .map_err(db_err)?;
            Ok(())
        }

        /// Whether `parent` exists and may have a child: it and every token
        /// it descends from are live, and it descends from fewer than
        /// `MAX_TOKEN_GENERATIONS` tokens. Bounded walk up by primary key.
        async fn lineage_open(tx: &mut sqlx::Transaction<'_, Db>, parent: Uuid) -> StoreResult<bool> {
            let row = sqlx::query(
                "WITH RECURSIVE lineage (id, parent_token_id, revoked_at, depth) AS ( \
                   SELECT id, parent_token_id, revoked_at, 1 FROM api_tokens WHERE id = $1 \
                   UNION ALL SELECT p.id, p.parent_token_id, p.revoked_at, l.depth + 1 \
                   FROM api_tokens p JOIN lineage l ON p.id = l.parent_token_id WHERE l.depth < $2) \
                 SELECT COUNT(*) AS walked, \
                   COALESCE(SUM(CASE WHEN revoked_at IS NOT NULL OR (depth = $2 AND parent_token_id IS NOT NULL) \
                   THEN 1 ELSE 0 END), 0) AS faults FROM lineage",
            )
            .bind(parent)
            .bind($crate::MAX_TOKEN_GENERATIONS)
            .fetch_one(&mut **tx)
            .await
            .map_err(db_err)?;
            let walked: i64 = row.try_get("walked").map_err(db_err)?;
            let faults: i64 = row.try_get("faults").map_err(db_err)?;
            Ok(walked > 0 && faults == 0)
        }

        #[$crate::async_trait]
        impl $crate::TokenStore for $store {
            async fn create_token(&self, t: &ApiToken, audit: &NewAuditEntry) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                if let Some(parent) = t.parent_token_id {
                    lock_lineage(&mut tx, parent).await?;
                    if !lineage_open(&mut tx, parent).await? {
                        return Ok(false);
                    }
                }
                sqlx::query(
                    "INSERT INTO api_tokens (id, user_id, name, token_hash, parent_token_id, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(t.id)
                .bind(t.user_id)
                .bind(&t.name)
                .bind(&t.token_hash)
                .bind(t.parent_token_id)
                .bind(to_millis(t.created_at))
                .execute(&mut *tx)
                .await
                .map_err(|e| conflict_or(e, "token"))?;
                insert_audit(&mut *tx, audit).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(true)
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

            async fn token_with_user(&self, token_hash: &str) -> StoreResult<Option<$crate::TokenInUse>> {
                // The lineage is walked up in the same statement (by primary
                // key, at most MAX_TOKEN_GENERATIONS steps; none for a token
                // created in a session): a token whose ancestor is revoked is
                // refused even if the cascade that revokes it was missed.
                let row = sqlx::query(
                    "WITH RECURSIVE lineage (id, parent_token_id, revoked_at, depth) AS ( \
                       SELECT id, parent_token_id, revoked_at, 0 FROM api_tokens WHERE token_hash = $1 \
                       UNION ALL SELECT p.id, p.parent_token_id, p.revoked_at, l.depth + 1 \
                       FROM api_tokens p JOIN lineage l ON p.id = l.parent_token_id WHERE l.depth < $2) \
                     SELECT t.id AS token_id, t.name AS token_name, t.token_hash, t.parent_token_id, \
                     t.created_at AS token_created_at, t.last_used_at, t.last_used_from, t.last_used_agent, t.revoked_at, \
                     u.id, u.email, u.display_name, u.password_hash, u.roles, u.disabled, \
                     u.failed_sign_ins, u.locked_until, u.totp_secret, u.totp_enabled, u.locale, u.calendar_key_hash, u.must_change_password, u.created_at, \
                     (SELECT COUNT(*) FROM lineage l WHERE (l.depth > 0 AND l.revoked_at IS NOT NULL) \
                       OR (l.depth = $2 AND l.parent_token_id IS NOT NULL)) AS lineage_faults \
                     FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
                )
                .bind(token_hash)
                .bind($crate::MAX_TOKEN_GENERATIONS)
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
                    parent_token_id: row.try_get("parent_token_id").map_err(db_err)?,
                    created_at: from_millis(row.try_get("token_created_at").map_err(db_err)?)?,
                    last_used_at: opt_millis(row.try_get("last_used_at").map_err(db_err)?)?,
                    last_used_from: row.try_get("last_used_from").map_err(db_err)?,
                    last_used_agent: row.try_get("last_used_agent").map_err(db_err)?,
                    revoked_at: opt_millis(row.try_get("revoked_at").map_err(db_err)?)?,
                };
                let faults: i64 = row.try_get("lineage_faults").map_err(db_err)?;
                Ok(Some($crate::TokenInUse {
                    token,
                    user,
                    lineage_live: faults == 0,
                }))
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

            async fn revoke_token(
                &self,
                id: Uuid,
                at: OffsetDateTime,
                audit: $crate::RevocationAudit<'_>,
            ) -> StoreResult<Option<Vec<Uuid>>> {
                let mut tx = self.pool.begin().await.map_err(db_err)?;
                lock_lineage(&mut tx, id).await?;
                let done = sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                    .bind(to_millis(at))
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
                if done.rows_affected() == 0 {
                    return Ok(None);
                }
                // Every descendant, through revoked ones too (UNION stops on
                // any row seen twice), so that none is left live.
                let mut derived: Vec<Uuid> = sqlx::query_scalar(
                    "WITH RECURSIVE derived (id) AS ( \
                       SELECT id FROM api_tokens WHERE parent_token_id = $1 \
                       UNION SELECT t.id FROM api_tokens t JOIN derived d ON t.parent_token_id = d.id) \
                     UPDATE api_tokens SET revoked_at = $2 \
                     WHERE id IN (SELECT id FROM derived) AND revoked_at IS NULL RETURNING id",
                )
                .bind(id)
                .bind(to_millis(at))
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;
                derived.sort_unstable();
                insert_audit(&mut *tx, &audit(&derived)).await?;
                tx.commit().await.map_err(db_err)?;
                Ok(Some(derived))
            }

            async fn touch_token(
                &self,
                id: Uuid,
                at: OffsetDateTime,
                from: Option<&str>,
                agent: Option<&str>,
            ) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE api_tokens SET last_used_at = $1, last_used_from = $2, last_used_agent = $3 WHERE id = $4",
                )
                .bind(to_millis(at))
                .bind(from)
                .bind(agent)
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(db_err)?;
                Ok(())
            }
        }
    };
}
