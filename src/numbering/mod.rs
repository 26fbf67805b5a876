//! Legal document numbers: each account's invoices and credit notes are
//! numbered from series of their own, in the format the account chose, at
//! the moment they are issued.
//!
//! The guarantees (sequential, without gaps, unique, independent between
//! accounts) come from the counters in the database, row-locked by the
//! issuing transaction (see the number_series migration). On top of them:
//! when the next value's number is already held by a document that was
//! given it explicitly (a client's or an importer's), the series moves
//! past it, so issuing never fails on a taken number and the series stays
//! without gaps (that document fills the place).

use chrono::{Datelike, NaiveDate};

use crate::db::TenantConn;
use crate::domain::{NumberFormat, NumberReset};
use crate::models::account::Profile;
use crate::models::number_sequence;

/// A series of numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    Invoice,
    CreditNote,
}

impl Series {
    fn as_str(self) -> &'static str {
        match self {
            Self::Invoice => "invoice",
            Self::CreditNote => "credit_note",
        }
    }

    fn format(self, profile: &Profile) -> &str {
        match self {
            Self::Invoice => &profile.invoice_number_format,
            Self::CreditNote => &profile.credit_note_number_format,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NumberingError {
    #[error(
        "the {series} series has used its values up to {last_used}: the next one can be {next} or more, never less"
    )]
    AlreadyUsed {
        series: &'static str,
        last_used: i64,
        next: i64,
    },
    #[error("the account's {series} number format is not valid: {reason}")]
    BadFormat {
        series: &'static str,
        reason: String,
    },
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Which counter a document dated `date` takes its value from: one per
/// year with a yearly reset, else one for ever.
pub fn period(reset: NumberReset, date: NaiveDate) -> i32 {
    match reset {
        NumberReset::Never => 0,
        NumberReset::Yearly => date.year(),
    }
}

fn format_of(series: Series, profile: &Profile) -> Result<NumberFormat, NumberingError> {
    NumberFormat::parse(series.format(profile)).map_err(|reason| NumberingError::BadFormat {
        series: series.as_str(),
        reason,
    })
}

/// The number of the next document of `series` dated `date`, taken from
/// its counter in this transaction (see the module's comment).
pub fn assign(
    conn: &mut TenantConn<'_>,
    series: Series,
    profile: &Profile,
    date: NaiveDate,
) -> Result<String, NumberingError> {
    let format = format_of(series, profile)?;
    let period = period(profile.number_reset, date);
    loop {
        let sequence = number_sequence::take(conn, series.as_str(), period)?;
        let number = format.render(date, sequence);
        if !number_sequence::number_taken(conn, &number)? {
            return Ok(number);
        }
    }
}

/// The sequence value the next document of `series` gets, issued `today`.
pub fn next_sequence(
    conn: &mut TenantConn<'_>,
    series: Series,
    reset: NumberReset,
    today: NaiveDate,
) -> Result<i64, NumberingError> {
    Ok(number_sequence::next_value(
        conn,
        series.as_str(),
        period(reset, today),
    )?)
}

/// Sets the sequence value the next document of `series` issued `today`
/// gets: up, to continue a series from elsewhere, but never down to one
/// already used.
pub fn set_next_sequence(
    conn: &mut TenantConn<'_>,
    series: Series,
    reset: NumberReset,
    today: NaiveDate,
    next: i64,
) -> Result<(), NumberingError> {
    let period = period(reset, today);
    // In a savepoint: a refusal must leave the request's transaction usable.
    let account = conn.account().clone();
    let actor = conn.actor().clone();
    let outcome = diesel::Connection::transaction(conn.pg(), |pg| {
        number_sequence::set_next(
            &mut TenantConn::new(pg, &account, &actor),
            series.as_str(),
            period,
            next,
        )
    });
    match outcome {
        Ok(()) => Ok(()),
        Err(diesel::result::Error::DatabaseError(_, info))
            if crate::db::constraint_name(info.as_ref())
                == Some("number_sequences_not_lowered") =>
        {
            Err(NumberingError::AlreadyUsed {
                series: series.as_str(),
                last_used: number_sequence::last_used(conn, series.as_str(), period)?,
                next,
            })
        }
        Err(other) => Err(other.into()),
    }
}
