//! `number_sequences` and `document_numbers`: the counters behind document
//! numbers (see the number_series migration for the mechanism). The app
//! role reads them and changes them only through the owner's functions,
//! which act on the transaction's account.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};

use crate::db::TenantConn;
use crate::schema::{document_numbers, number_sequences};

/// Takes the next value of the account's `series` for `period` (0, or a
/// year), row-locking the counter until the transaction ends.
pub fn take(conn: &mut TenantConn<'_>, series: &str, period: i32) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Taken {
        #[diesel(sql_type = BigInt)]
        taken: i64,
    }
    let taken: Taken = diesel::sql_query("SELECT take_document_sequence($1, $2) AS taken")
        .bind::<Text, _>(series)
        .bind::<Integer, _>(period)
        .get_result(conn.pg())?;
    Ok(taken.taken)
}

/// Sets the next value; a check violation of `number_sequences_not_lowered`
/// when it is at or below the last value used.
pub fn set_next(
    conn: &mut TenantConn<'_>,
    series: &str,
    period: i32,
    next: i64,
) -> QueryResult<()> {
    diesel::sql_query("SELECT set_next_document_sequence($1, $2, $3)")
        .bind::<Text, _>(series)
        .bind::<Integer, _>(period)
        .bind::<BigInt, _>(next)
        .execute(conn.pg())?;
    Ok(())
}

/// The value the next document of `series` in `period` gets (1 for a
/// series not used yet).
pub fn next_value(conn: &mut TenantConn<'_>, series: &str, period: i32) -> QueryResult<i64> {
    let account_id = conn.account_id().to_owned();
    let next: Option<i64> = number_sequences::table
        .find((account_id, series, period))
        .select(number_sequences::next_value)
        .first(conn.pg())
        .optional()?;
    Ok(next.unwrap_or(1))
}

/// The last value used of `series` in `period` (0 for none).
pub fn last_used(conn: &mut TenantConn<'_>, series: &str, period: i32) -> QueryResult<i64> {
    let account_id = conn.account_id().to_owned();
    let last: Option<i64> = number_sequences::table
        .find((account_id, series, period))
        .select(number_sequences::last_used)
        .first(conn.pg())
        .optional()?;
    Ok(last.unwrap_or(0))
}

/// Whether a document of the account already carries `number`.
pub fn number_taken(conn: &mut TenantConn<'_>, number: &str) -> QueryResult<bool> {
    let account_id = conn.account_id().to_owned();
    diesel::select(diesel::dsl::exists(
        document_numbers::table.find((account_id, number)),
    ))
    .get_result(conn.pg())
}
