//! The SQL shared by the SQLite and PostgreSQL stores.
//!
//! Both backends keep the same tables and column names (their migrations
//! differ only in column types); instants are stored as milliseconds since
//! the Unix epoch and role sets as comma-separated names, so the statements
//! below are valid in both dialects. Parameters are numbered `$1, $2...` in
//! order of first appearance, which SQLite reads as named parameters bound
//! by position. `impl_sql_store!(Type, Database, "name")` implements every
//! storage trait for a struct holding `pool: sqlx::Pool<Database>`.
//!
//! The statements are grouped by aggregate, one file per storage trait
//! (`users.rs` for `UserStore`, ...). Each file holds a hidden macro that
//! `impl_sql_store!` expands inside its `shared_sql` module, next to the
//! imports and helpers below: a row mapper or column list of one file is
//! in scope in the others. Those macros are exported only because a macro
//! expanded in another crate reaches no unexported one; they are no API.

mod audit;
mod cases;
mod evidence;
mod knowledge;
mod mail;
mod messages;
mod organisations;
mod peers;
mod requests;
mod resets;
mod sessions;
mod signatures;
mod tokens;
mod users;

#[doc(hidden)]
#[macro_export]
macro_rules! impl_sql_store {
    ($store:ident, $db:ty, $backend:literal) => {
        mod shared_sql {
            use super::$store;
            use entraide_domain::{
                CaseReference, CaseStatus, CaseSummary, CaseTitle, CountryCode, DisplayName, Email,
                NodeId, OrganisationKind, OrganisationName, RoleSet,
            };
            use sqlx::Row;
            use time::OffsetDateTime;
            use uuid::Uuid;
            use $crate::{
                from_millis, to_millis, ApiToken, AuditEntry, AuditFilter, Case, CaseMember,
                CooperationRequest, CustodyEvent, CustodyJob, Effects, EvidenceItem,
                EvidenceUpload, ForeignTreeHead, InboxMessage, KnowledgeRow, NewAuditEntry,
                NewCustodyEvent, NewUser, Organisation, OutboxMail, OutboxMessage, PasswordReset,
                Peer, RequestEvent, RequestFilter, RequestLink, Session, StoreError, StoreResult,
                StoredTreeHead, User,
            };

            type Db = $db;
            type DbRow = <Db as sqlx::Database>::Row;

            fn db_err(e: sqlx::Error) -> StoreError {
                StoreError::Database(e.to_string())
            }

            /// Maps a unique-constraint violation to a conflict on `field`.
            fn conflict_or(e: sqlx::Error, field: &'static str) -> StoreError {
                match &e {
                    sqlx::Error::Database(d) if d.is_unique_violation() => {
                        StoreError::Conflict(field)
                    }
                    _ => db_err(e),
                }
            }

            fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
                StoreError::Corrupt(format!("{what}: {e}"))
            }

            fn opt_millis(v: Option<i64>) -> StoreResult<Option<OffsetDateTime>> {
                v.map(from_millis).transpose()
            }

            $crate::__sql_organisations!($store);
            $crate::__sql_users!($store);
            $crate::__sql_sessions!($store);
            $crate::__sql_tokens!($store);
            $crate::__sql_cases!($store);
            $crate::__sql_requests!($store);
            $crate::__sql_evidence!($store);
            $crate::__sql_peers!($store);
            $crate::__sql_messages!($store);
            $crate::__sql_knowledge!($store);
            $crate::__sql_audit!($store);
            $crate::__sql_signatures!($store);
            $crate::__sql_mail!($store);
            $crate::__sql_resets!($store);

            #[$crate::async_trait]
            impl $crate::Store for $store {
                async fn ping(&self) -> StoreResult<()> {
                    sqlx::query("SELECT 1")
                        .execute(&self.pool)
                        .await
                        .map(|_| ())
                        .map_err(db_err)
                }

                fn backend(&self) -> &'static str {
                    $backend
                }
            }
        }
    };
}
