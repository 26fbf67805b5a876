//! Fixed pieces of SQL that Diesel's query builder cannot express
//! (correlated subqueries, interval arithmetic), as expressions with a
//! static query id.
//!
//! A `diesel::dsl::sql` literal would do the same, but it opts its whole
//! query out of Diesel's prepared-statement cache: PostgreSQL would parse
//! and plan the query again on every request. These keep it prepared once
//! per connection.

use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Array, Bool, Nullable, Numeric, Text, Timestamptz};
use diesel::{QueryResult, expression::is_aggregate};

use crate::models::api_key::LAST_USED_RESOLUTION_SQL;
use crate::models::idempotency_key::RETENTION_SQL;
use crate::schema::{api_keys, idempotency_keys, invoices};

macro_rules! fixed_sql {
    ($(#[$doc:meta])* $name:ident: $sql_type:ty, on $table:ty, $sql:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, QueryId)]
        pub struct $name;

        impl Expression for $name {
            type SqlType = $sql_type;
        }

        impl QueryFragment<Pg> for $name {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
                out.push_sql($sql);
                Ok(())
            }
        }

        impl AppearsOnTable<$table> for $name {}
        impl SelectableExpression<$table> for $name {}

        impl ValidGrouping<()> for $name {
            type IsAggregate = is_aggregate::Never;
        }
    };
}

/// Like `fixed_sql!`, for a correlated subquery of one account's rows: the
/// account is a bound value (`$before <account> $after`), not the outer
/// row's `account_id`. The result is the same; the difference is Citus's:
/// it routes a statement to a single shard only when every distributed
/// table in it is filtered by the same constant account, and does not
/// carry the outer filter into a subquery of the select list.
macro_rules! account_sql {
    ($(#[$doc:meta])* $name:ident: $sql_type:ty, on $table:ty, $before:expr, $after:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub String);

        // The SQL text never changes, only the bound account: one prepared
        // statement serves every account.
        impl QueryId for $name {
            type QueryId = $name;
            const HAS_STATIC_QUERY_ID: bool = true;
        }

        impl Expression for $name {
            type SqlType = $sql_type;
        }

        impl QueryFragment<Pg> for $name {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
                out.push_sql($before);
                out.push_bind_param::<Text, _>(&self.0)?;
                out.push_sql($after);
                Ok(())
            }
        }

        impl AppearsOnTable<$table> for $name {}
        impl SelectableExpression<$table> for $name {}

        impl ValidGrouping<()> for $name {
            type IsAggregate = is_aggregate::Never;
        }
    };
}

account_sql!(
    /// Σ of the invoice's line subtotals, Σ of their taxes (`line`
    /// rounding), and Σ over its breakdown entries of round(Σ subtotals ×
    /// rate / 100) (`document` rounding); NULLs without lines. One array:
    /// one scan of the items, not one per sum (an array rather than a
    /// record, which Citus cannot read back from a worker).
    ItemsSums: Nullable<Array<Nullable<Numeric>>>,
    on invoices::table,
    "(SELECT ARRAY[sum(g.subtotal), sum(g.tax), sum(round(g.subtotal * g.rate / 100, 2))] \
      FROM (SELECT sum(l.subtotal) AS subtotal, sum(l.tax) AS tax, l.tax_rate AS rate \
            FROM invoice_items l \
            WHERE l.account_id = ",
    " AND l.invoice_id = invoices.id \
            GROUP BY l.tax_category, l.tax_rate) g)"
);

account_sql!(
    /// Σ of the invoice's credit notes' totals (NULL without any).
    CreditsSum: Nullable<Numeric>, on invoices::table,
    "(SELECT sum(t.taxable_amount + t.tax_amount) FROM credit_note_taxes t WHERE t.account_id = ",
    " AND t.invoice_id = invoices.id)"
);

account_sql!(
    /// Σ of the invoice's payments (NULL without payments).
    PaymentsSum: Nullable<Numeric>, on invoices::table,
    "(SELECT sum(p.amount) FROM payments p WHERE p.account_id = ",
    " AND p.invoice_id = invoices.id)"
);

fixed_sql!(
    /// Whether the key's `last_used_at` is due for a refresh.
    KeyUseIsStale: Bool, on api_keys::table,
    LAST_USED_RESOLUTION_SQL
);

fixed_sql!(
    /// The oldest `created_at` a stored response may have and still count.
    RetentionStart: Timestamptz, on idempotency_keys::table,
    RETENTION_SQL
);
