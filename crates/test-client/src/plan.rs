//! Reading `EXPLAIN (ANALYZE, FORMAT JSON)` output in tests that pin a statement's plan: the
//! rows each operator visited, the indexes read, and the plan's shape — so a test can assert
//! that a queue claim stays bounded and does not change with statistics.

use std::collections::BTreeSet;

use serde_json::Value;
use sqlx::PgConnection;

/// Keeps autovacuum off `table` (schema-qualified), so it has no statistics until the test
/// analyses it, whatever the server's settings.
pub async fn without_autovacuum(conn: &mut PgConnection, table: &str) {
    // `table` is a test's constant, not input.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "alter table {table} set (autovacuum_enabled = false)"
    )))
    .execute(conn)
    .await
    .unwrap();
}

/// Asserts that `table` has never been analysed (Postgres knows no row count for it).
pub async fn assert_never_analysed(conn: &mut PgConnection, table: &str) {
    let reltuples: f32 =
        sqlx::query_scalar("select reltuples from pg_class where oid = $1::regclass")
            .bind(table)
            .fetch_one(conn)
            .await
            .unwrap();
    assert_eq!(reltuples, -1.0, "{table} has statistics already");
}

/// Gathers statistics for `table`.
pub async fn analyse(conn: &mut PgConnection, table: &str) {
    sqlx::query(sqlx::AssertSqlSafe(format!("analyze {table}")))
        .execute(conn)
        .await
        .unwrap();
}

/// One executed plan.
#[derive(Debug, Clone)]
pub struct Plan {
    root: Value,
}

impl Plan {
    /// From the single JSON value `EXPLAIN (ANALYZE, FORMAT JSON)` returns.
    pub fn from_explain(explained: &Value) -> Self {
        Self {
            root: explained[0]["Plan"].clone(),
        }
    }

    /// Every operator, depth first.
    pub fn nodes(&self) -> Vec<&Value> {
        fn walk<'a>(node: &'a Value, out: &mut Vec<&'a Value>) {
            out.push(node);
            for child in node["Plans"].as_array().into_iter().flatten() {
                walk(child, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut out);
        out
    }

    /// Rows the statement returned (or, for a DML statement with `RETURNING`, wrote).
    pub fn rows(&self) -> f64 {
        self.root["Actual Rows"].as_f64().unwrap_or(0.0)
    }

    /// The operator that visited the most rows (returned or filtered out, over all its
    /// loops), with that count.
    pub fn busiest(&self) -> (String, f64) {
        self.nodes()
            .into_iter()
            .map(|n| {
                let visited = (n["Actual Rows"].as_f64().unwrap_or(0.0)
                    + n["Rows Removed by Filter"].as_f64().unwrap_or(0.0)
                    + n["Rows Removed by Index Recheck"].as_f64().unwrap_or(0.0)
                    + n["Rows Removed by Join Filter"].as_f64().unwrap_or(0.0))
                    * n["Actual Loops"].as_f64().unwrap_or(1.0);
                (describe(n), visited)
            })
            .fold((String::new(), 0.0), |a, b| if b.1 > a.1 { b } else { a })
    }

    /// Tables read by a sequential scan.
    pub fn seq_scans(&self) -> Vec<String> {
        self.nodes()
            .into_iter()
            .filter(|n| n["Node Type"] == "Seq Scan")
            .map(describe)
            .collect()
    }

    /// The indexes read.
    pub fn indexes(&self) -> BTreeSet<String> {
        self.nodes()
            .into_iter()
            .filter_map(|n| n["Index Name"].as_str().map(str::to_owned))
            .collect()
    }

    /// The operators and the indexes they read, in order. A plain and a bitmap probe of the
    /// same index count as the same access (which one the planner takes depends on the row
    /// estimate, not on the work).
    pub fn shape(&self) -> Vec<String> {
        self.nodes()
            .into_iter()
            .filter(|n| n["Node Type"] != "Bitmap Heap Scan")
            .map(|n| match n["Index Name"].as_str() {
                Some(index) => format!("index {index}"),
                None => n["Node Type"].as_str().unwrap_or_default().to_owned(),
            })
            .collect()
    }
}

/// A statement's `EXPLAIN` query, for [`explain`]'s `bind` to add the parameters to.
pub type Explain<'q> =
    sqlx::query::QueryScalar<'q, sqlx::Postgres, Value, sqlx::postgres::PgArguments>;

/// `statement` executed once under `EXPLAIN (ANALYZE, FORMAT JSON)` with the parameters `bind`
/// adds, and rolled back; with a custom or a `generic` plan (what a prepared statement may
/// switch to after five executions).
pub async fn explain(
    conn: &mut PgConnection,
    generic: bool,
    statement: &str,
    bind: impl FnOnce(Explain<'_>) -> Explain<'_>,
) -> Plan {
    let mode = if generic {
        "force_generic_plan"
    } else {
        "auto"
    };
    sqlx::query("select set_config('plan_cache_mode', $1, false)")
        .bind(mode)
        .execute(&mut *conn)
        .await
        .unwrap();
    let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
    // The statement text is the code's own, not input.
    let query = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "explain (analyze, format json)\n{statement}"
    )));
    let explained: Value = bind(query).fetch_one(&mut *tx).await.unwrap();
    tx.rollback().await.unwrap();
    Plan::from_explain(&explained)
}

/// Checks that `statement` on `table` (never analysed yet) is statistics-proof: its plan,
/// custom and generic, before and after `table` is analysed, has no sequential scan, no
/// operator visiting more than `visit_bound` rows, and the same shape with statistics as
/// without. Analyses `table`.
pub async fn assert_statistics_proof(
    conn: &mut PgConnection,
    table: &str,
    visit_bound: f64,
    statement: &str,
    bind: impl Fn(Explain<'_>) -> Explain<'_>,
) {
    assert_never_analysed(conn, table).await;
    let mut plans = Vec::new();
    for analysed in [false, true] {
        if analysed {
            analyse(conn, table).await;
        }
        for generic in [false, true] {
            let plan = explain(conn, generic, statement, &bind).await;
            let name = format!("analysed {analysed}, generic {generic}");
            assert_eq!(plan.seq_scans(), Vec::<String>::new(), "{name}");
            let (busiest, visited) = plan.busiest();
            assert!(
                visited <= visit_bound,
                "{name}: {busiest} visited {visited} rows (bound {visit_bound})"
            );
            plans.push(plan);
        }
    }
    assert_eq!(
        plans[0].shape(),
        plans[2].shape(),
        "statistics change nothing"
    );
    assert_eq!(
        plans[1].shape(),
        plans[3].shape(),
        "statistics change nothing"
    );
}

fn describe(node: &Value) -> String {
    let kind = node["Node Type"].as_str().unwrap_or_default();
    match (node["Index Name"].as_str(), node["Relation Name"].as_str()) {
        (Some(index), _) => format!("{kind} using {index}"),
        (None, Some(table)) => format!("{kind} on {table}"),
        (None, None) => kind.to_owned(),
    }
}
