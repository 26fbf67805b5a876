//! Fixed pieces of SQL that Diesel's query builder cannot express
//! (interval arithmetic), as expressions with a static query id.
//!
//! A `diesel::dsl::sql` literal would do the same, but it opts its whole
//! query out of Diesel's prepared-statement cache: PostgreSQL would parse
//! and plan the query again on every request. These keep it prepared once
//! per connection.

use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::Bool;
use diesel::{QueryResult, expression::is_aggregate};

use crate::models::api_key::LAST_USED_RESOLUTION_SQL;
use crate::schema::api_keys;

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

fixed_sql!(
    /// Whether the key's `last_used_at` is due for a refresh.
    KeyUseIsStale: Bool, on api_keys::table,
    LAST_USED_RESOLUTION_SQL
);
