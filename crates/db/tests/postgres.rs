//! The db crate against a real Postgres: database creation, concurrent migrations,
//! readiness, constraint classification and outage detection.

use std::time::Duration;

use sqlx::PgPool;
use temponest_db::{
    ConstraintKind, DbConfig, connect, connect_lazy, constraint_violation, ensure_database,
    is_unavailable, migrate, ping,
};

fn server_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A URL for a database that does not exist yet (dropped by [`drop_database`]).
fn fresh_database_url() -> (String, String) {
    let name = format!("tn_dbtest_{}", uuid::Uuid::new_v4().simple());
    let base = server_url();
    let (server, _) = base
        .rsplit_once('/')
        .expect("DATABASE_URL has a database path");
    (format!("{server}/{name}"), name)
}

async fn drop_database(name: &str) {
    let admin = PgPool::connect(&server_url()).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "drop database if exists {name} with (force)"
    )))
    .execute(&admin)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_missing_database_is_created_once_and_migrations_apply_exactly_once_under_concurrency() {
    let (url, name) = fresh_database_url();
    let config = DbConfig::for_service("test", &url);
    // Several replicas starting together.
    let creators = (0..3).map(|_| {
        let config = config.clone();
        tokio::spawn(async move { ensure_database(&config).await })
    });
    for result in futures::future::join_all(creators).await {
        result.unwrap().expect("every replica sees the database");
    }
    let pools: Vec<PgPool> = futures::future::join_all((0..3).map(|_| connect(&config)))
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let runs = pools.iter().map(|pool| {
        let pool = pool.clone();
        tokio::spawn(async move { migrate(&pool).await })
    });
    for result in futures::future::join_all(runs).await {
        result.unwrap().expect("migrations apply");
    }
    let applied: i64 = sqlx::query_scalar("select count(*) from _sqlx_migrations")
        .fetch_one(&pools[0])
        .await
        .unwrap();
    assert_eq!(applied as usize, temponest_db::MIGRATOR.iter().count());
    let auth_tables: i64 = sqlx::query_scalar(
        "select count(*) from information_schema.tables where table_schema = 'auth'",
    )
    .fetch_one(&pools[0])
    .await
    .unwrap();
    assert!(auth_tables >= 8, "{auth_tables}");

    // After a rollback: a newer release applied a migration this binary does not know, and it
    // still starts (its own migrations are all applied and unchanged).
    sqlx::query(
        "insert into _sqlx_migrations (version, description, success, checksum, execution_time)
         values (20991231000001, 'from a newer release', true, '\\x00', 1)",
    )
    .execute(&pools[0])
    .await
    .unwrap();
    migrate(&pools[1])
        .await
        .expect("the previous release starts on a database a newer one migrated");
    for pool in pools {
        pool.close().await;
    }
    drop_database(&name).await;
}

#[tokio::test]
async fn connections_carry_the_statement_timeout_and_ping_reports_readiness() {
    let mut config = DbConfig::for_service("test", server_url());
    config.statement_timeout = Duration::from_millis(200);
    let pool = connect(&config).await.unwrap();
    assert!(ping(&pool).await);
    let err = // A statement far longer than the timeout: a full count over a large generated series.
    sqlx::query("select count(*) from generate_series(1, 1000000000)")
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("statement timeout"), "{err}");
    let shown: String = sqlx::query_scalar("show statement_timeout")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(shown, "200ms");
}

#[tokio::test]
async fn an_unreachable_database_is_reported_as_unavailable_not_as_a_bug() {
    let mut config = DbConfig::for_service("test", "postgres://postgres@127.0.0.1:1/none");
    config.acquire_timeout = Duration::from_millis(300);
    let pool = connect_lazy(&config).unwrap();
    assert!(!ping(&pool).await);
    let err = sqlx::query("select 1").execute(&pool).await.unwrap_err();
    assert!(is_unavailable(&err), "{err:?}");
    assert!(matches!(
        connect_lazy(&DbConfig::for_service(
            "test",
            "postgres://u@host:notaport/db"
        )),
        Err(temponest_db::DbError::InvalidUrl(_))
    ));
}

#[tokio::test]
async fn constraint_violations_are_classified_by_kind_and_name() {
    let pool = PgPool::connect(&server_url()).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    sqlx::raw_sql(
        "create temporary table parent (id int primary key);
         create temporary table child (
             id int constraint child_pkey primary key,
             parent_id int constraint child_parent_fk references parent (id),
             qty int not null constraint child_qty_positive check (qty > 0)
         );
         insert into parent values (1);
         insert into child values (1, 1, 1);",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    let cases = [
        (
            "insert into child values (1, 1, 1)",
            ConstraintKind::Unique,
            "child_pkey",
        ),
        (
            "insert into child values (2, 9, 1)",
            ConstraintKind::ForeignKey,
            "child_parent_fk",
        ),
        (
            "insert into child values (3, 1, 0)",
            ConstraintKind::Check,
            "child_qty_positive",
        ),
        (
            "insert into child values (4, 1, null)",
            ConstraintKind::NotNull,
            "",
        ),
    ];
    for (sql, kind, name) in cases {
        sqlx::query("savepoint s").execute(&mut *tx).await.unwrap();
        let err = sqlx::query(sql).execute(&mut *tx).await.unwrap_err();
        let violation = constraint_violation(&err).unwrap_or_else(|| panic!("{sql}: {err}"));
        assert_eq!(violation.kind, kind, "{sql}");
        assert_eq!(violation.constraint, name, "{sql}");
        assert!(!is_unavailable(&err));
        sqlx::query("rollback to savepoint s")
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    let not_a_violation = sqlx::query("select 1/0")
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert!(constraint_violation(&not_a_violation).is_none());
}
