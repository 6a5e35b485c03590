//! The queries every tenant-scoped resource has, written once: find one row of the tenant,
//! find it locked for a change, read one page of a list with its total, and soft-delete one;
//! and one column list per row type for every statement that reads or returns whole rows
//! ([`define_rows!`]).
//!
//! sqlx checks each query against the database at compile time and needs its text as string
//! literals; `+` joins literals, also ones a macro passed on. So these are macros that put a
//! table's column list and conditions into the standard statements, and what the compiler
//! checks is exactly what runs.

/// Generates, in the calling module, the two lookups of one row by `(tenant_id, id)`:
///
/// - `find(pool, tenant_id, id) -> sqlx::Result<Option<Row>>` (timed as `"{metric}.find"`);
/// - `find_for_update(conn, tenant_id, id)`: the same row locked `for update` in the caller's
///   transaction.
///
/// `live` is the condition a row must meet to exist for the API (`"deleted_at is null"` for
/// soft-deleted tables, `"true"` otherwise). `columns` must name exactly `Row`'s fields.
///
/// ```ignore
/// temponest_db::tenant_rows! {
///     row: AgentRow,
///     table: "agents.agents",
///     columns: "id, tenant_id, name, created_at",
///     live: "deleted_at is null",
///     metric: "agents",
///     doc: "agent",
/// }
/// ```
#[macro_export]
macro_rules! tenant_rows {
    (
        row: $row:ident,
        table: $table:literal,
        columns: $columns:literal,
        live: $live:literal,
        metric: $metric:literal,
        doc: $doc:literal $(,)?
    ) => {
        $crate::tenant_rows!(
            @find $row, $table, $columns, $live, $metric,
            concat!("A live ", $doc, " of the tenant.")
        );

        #[doc = concat!("A live ", $doc, " of the tenant, locked for a change.")]
        pub async fn find_for_update(
            conn: &mut sqlx::PgConnection,
            tenant_id: uuid::Uuid,
            id: uuid::Uuid,
        ) -> sqlx::Result<Option<$row>> {
            $crate::tenant_rows!(
                @by_id $row, $table, $columns, $live, [id, tenant_id], " for update"
            )
            .fetch_optional(conn)
            .await
        }
    };
    // `find` alone, for a table without a lifecycle that needs locking its rows.
    (
        @find $row:ident, $table:literal, $columns:literal, $live:literal, $metric:literal,
        $doc:expr
    ) => {
        #[doc = $doc]
        pub async fn find(
            pool: &sqlx::PgPool,
            tenant_id: uuid::Uuid,
            id: uuid::Uuid,
        ) -> sqlx::Result<Option<$row>> {
            $crate::timed(
                concat!($metric, ".find"),
                $crate::tenant_rows!(@by_id $row, $table, $columns, $live, [id, tenant_id])
                    .fetch_optional(pool),
            )
            .await
        }
    };
    // The one statement both read (`lock` appends `for update`); the arguments are passed in
    // because the functions' parameters are not visible to a nested expansion.
    (
        @by_id $row:ident, $table:literal, $columns:literal, $live:literal,
        [$id:ident, $tenant_id:ident] $(, $lock:literal)?
    ) => {
        sqlx::query_as!(
            $row,
            "select " + $columns + " from " + $table
                + " where id = $1 and tenant_id = $2 and " + $live $(+ $lock)?,
            $id,
            $tenant_id
        )
    };
}

/// Generates, in the calling module, `soft_delete(conn, tenant_id, id) -> sqlx::Result<bool>`
/// for a table whose rows are deleted by setting `deleted_at` (and `updated_at`): it deletes
/// a live row of the tenant, in the caller's transaction; false if there was none. `doc` is
/// the function's documentation.
///
/// ```ignore
/// temponest_db::soft_delete! {
///     table: "agents.agents",
///     doc: "Soft-deletes a live agent; false if there was none.",
/// }
/// ```
#[macro_export]
macro_rules! soft_delete {
    (table: $table:literal, doc: $doc:literal $(,)?) => {
        #[doc = $doc]
        pub async fn soft_delete(
            conn: &mut sqlx::PgConnection,
            tenant_id: uuid::Uuid,
            id: uuid::Uuid,
        ) -> sqlx::Result<bool> {
            let done = sqlx::query!(
                "update "
                    + $table
                    + " set deleted_at = now(), updated_at = now()
                 where id = $1 and tenant_id = $2 and deleted_at is null",
                id,
                tenant_id
            )
            .execute(conn)
            .await?;
            Ok(done.rows_affected() == 1)
        }
    };
}

/// Defines, in the calling module, the macro through which every statement that reads or
/// returns whole rows of one type goes, so the table's column list is written once. The
/// columns are selected in the order of the fields, with sqlx type overrides where needed.
/// The first token is `$` (a `macro_rules!` cannot write one itself).
///
/// ```ignore
/// temponest_db::define_rows! {
///     $ agent_rows: AgentRow { id, tenant_id, name },
///     columns: "id, tenant_id, name",
/// }
/// ```
///
/// The defined macro takes what the statement adds (see [`rows!`](crate::rows)):
///
/// - `select "from t where ..." , args`: `query_as!(Row, "select <columns> from t where ...")`;
/// - `with "c as (...)" select "from c ...", args`: the same after a common table expression;
/// - `returning "insert into t ... values (...)", args`: the statement `returning <columns>`;
/// - `find { table: .., live: .., metric: .., doc: .. }`: [`tenant_rows!`](crate::tenant_rows);
/// - `find_unlocked { table: .., metric: .., doc: .. }`: only its `find`, of any row;
/// - `page pool, metric, skip, limit, from: .., order: .., filter: [..]`: [`page!`](crate::page).
#[macro_export]
macro_rules! define_rows {
    (
        $d:tt $name:ident: $row:ident { $($field:ident),+ $(,)? },
        columns: $columns:literal $(,)?
    ) => {
        macro_rules! $name {
            ($d($d query:tt)*) => {
                $crate::rows! { $row { $($field),+ }, columns: $columns, $d($d query)* }
            };
        }
    };
}

/// The statements of [`define_rows!`](crate::define_rows), given the row type, its fields and
/// its columns.
#[macro_export]
macro_rules! rows {
    (
        $row:ident { $($field:ident),+ $(,)? }, columns: $columns:literal,
        select $tail:literal $(+ $more:literal)* $(, $arg:expr)* $(,)?
    ) => {
        sqlx::query_as!($row, "select " + $columns + " " + $tail $(+ $more)* $(, $arg)*)
    };
    (
        $row:ident { $($field:ident),+ $(,)? }, columns: $columns:literal,
        with $cte:literal select $tail:literal $(+ $more:literal)* $(, $arg:expr)* $(,)?
    ) => {
        sqlx::query_as!(
            $row,
            "with " + $cte + " select " + $columns + " " + $tail $(+ $more)* $(, $arg)*
        )
    };
    (
        $row:ident { $($field:ident),+ $(,)? }, columns: $columns:literal,
        returning $head:literal $(+ $more:literal)* $(, $arg:expr)* $(,)?
    ) => {
        sqlx::query_as!($row, $head $(+ $more)* + " returning " + $columns $(, $arg)*)
    };
    (
        $row:ident { $($field:ident),+ $(,)? }, columns: $columns:literal,
        find { table: $table:literal, live: $live:literal, metric: $metric:literal,
               doc: $doc:literal $(,)? }
    ) => {
        $crate::tenant_rows! {
            row: $row,
            table: $table,
            columns: $columns,
            live: $live,
            metric: $metric,
            doc: $doc,
        }
    };
    (
        $row:ident { $($field:ident),+ $(,)? }, columns: $columns:literal,
        find_unlocked { table: $table:literal, metric: $metric:literal, doc: $doc:literal $(,)? }
    ) => {
        $crate::tenant_rows!(
            @find $row, $table, $columns, "true", $metric,
            concat!("A ", $doc, " of the tenant.")
        );
    };
    (
        $row:ident { $($field:ident),+ $(,)? }, columns: $columns:literal,
        page $pool:expr, $metric:literal, $skip:expr, $limit:expr, $($rest:tt)*
    ) => {
        $crate::page!(
            $pool, $metric, $skip, $limit,
            $row { $($field),+ },
            columns: $columns,
            $($rest)*
        )
    };
}

/// One page of a list and the total count of what matches, in one round trip: the rows carry
/// `count(*) over ()`; only a page past the end runs a separate count (see
/// [`page_total`](crate::page_total)). Evaluates to `sqlx::Result<(Vec<Row>, i64)>`.
///
/// - `Row { fields }`: the row type and its fields, which `columns` selects in order;
/// - `from`: the table and its `where` clause over the `filter` arguments (`$1..$n`);
/// - `order`: the order and window, whose `offset`/`limit` are `$n+1` and `$n+2`.
///
/// ```ignore
/// temponest_db::page!(
///     pool, "agents.list", skip, limit,
///     AgentRow { id, tenant_id, name },
///     columns: "id, tenant_id, name",
///     from: "agents.agents where tenant_id = $1 and deleted_at is null",
///     order: "order by created_at desc, id desc offset $2 limit $3",
///     filter: [tenant_id],
/// )
/// ```
#[macro_export]
macro_rules! page {
    (
        $pool:expr, $metric:literal, $skip:expr, $limit:expr,
        $row:ident { $($field:ident),+ $(,)? },
        columns: $columns:literal,
        from: $from:literal,
        order: $order:literal,
        filter: [$($arg:tt)*] $(,)?
    ) => {
        async {
            let pool = $pool;
            let skip: i64 = $skip;
            let rows = $crate::timed(
                $metric,
                sqlx::query!(
                    "select " + $columns + r#", count(*) over () as "total!" from "# + $from
                        + " " + $order,
                    $($arg)*,
                    skip,
                    $limit
                )
                .fetch_all(pool),
            )
            .await?;
            let total = $crate::page_total(
                rows.first().map(|r| r.total),
                skip,
                $crate::timed(
                    concat!($metric, ".count"),
                    sqlx::query_scalar!(r#"select count(*) as "count!" from "# + $from, $($arg)*)
                        .fetch_one(pool),
                ),
            )
            .await?;
            let rows: Vec<$row> = rows
                .into_iter()
                .map(|r| $row { $($field: r.$field),+ })
                .collect();
            sqlx::Result::Ok((rows, total))
        }
    };
}
