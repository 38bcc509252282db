//! PostgreSQL storage, for larger deployments with several stateless
//! replicas. Migrations are applied at start-up (sqlx takes an advisory
//! lock, so concurrent replicas do not race).

use std::time::Duration;

use entraide_store::{StoreError, StoreResult};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;

#[derive(Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    pub async fn connect(url: &str) -> StoreResult<Self> {
        Self::connect_with(url, None).await
    }

    /// `max_connections`: the size of the connection pool (default: twice
    /// the number of cores, between 4 and 32 — more connections than cores
    /// only add contention; measured in docs/PERFORMANCE.md).
    pub async fn connect_with(url: &str, max_connections: Option<u32>) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(
                max_connections
                    .unwrap_or_else(default_pool_size)
                    .clamp(1, 512),
            )
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|e| StoreError::Database(format!("cannot connect to PostgreSQL: {e}")))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Database(format!("migration failed: {e}")))?;
        Ok(Self { pool })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

entraide_store::impl_sql_store!(PostgresStore, sqlx::Postgres, "postgres");

fn default_pool_size() -> u32 {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    u32::try_from(2 * cores).unwrap_or(32).clamp(4, 32)
}
