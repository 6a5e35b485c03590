//! Database rows into API types, written once: most `XxxOut` types repeat their row's
//! fields, and a field-by-field `From` impl per type said `name: row.name` a hundred times.

/// `impl From<Row> for Out`, copying the fields listed before the `;` by name and computing
/// the ones after it from the row (named by the first token, so the expressions can read
/// it). Computed fields are evaluated first: they may borrow a field that is then copied.
///
/// ```
/// struct TenantRow { id: u32, name: String, user_count: i64 }
/// struct TenantOut { id: u32, name: String, user_count: i64, label: String }
/// temponest_web::from_row! { row: TenantRow => TenantOut {
///     id, name, user_count;
///     label: format!("{} ({})", row.name, row.user_count),
/// } }
/// let out = TenantOut::from(TenantRow { id: 1, name: "acme".into(), user_count: 2 });
/// assert_eq!((out.id, out.label.as_str()), (1, "acme (2)"));
/// ```
#[macro_export]
macro_rules! from_row {
    ($row:ident: $from:ty => $to:ty {
        $($same:ident),* $(,)?
        $(; $($field:ident: $value:expr),* $(,)?)?
    }) => {
        impl ::core::convert::From<$from> for $to {
            fn from($row: $from) -> Self {
                Self {
                    $($($field: $value,)*)?
                    $($same: $row.$same,)*
                }
            }
        }
    };
}
