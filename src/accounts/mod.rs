//! An account's own profile: the seller on its invoices, read and changed
//! by the account itself (`/v1/account`) or by an administrator.

use crate::db::TenantConn;
use crate::domain::{NumberFormat, NumberReset};
use crate::models::account::{self, ProfileChanges};
use crate::numbering::{self, NumberingError, Series};
use crate::views::AccountView;

/// A change of the profile, already validated field by field.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    pub changes: ProfileChanges,
    pub next_invoice_sequence: Option<i64>,
    pub next_credit_note_sequence: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Numbering(#[from] NumberingError),
    #[error("{0:?} is not a time zone PostgreSQL knows (an IANA name like Europe/Berlin)")]
    UnknownTimezone(String),
    /// A rule between fields: the field to change, and why.
    #[error("{field} {message}")]
    Inconsistent {
        field: &'static str,
        message: String,
    },
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// The account's profile as the API shows it.
pub fn view(conn: &mut TenantConn<'_>) -> Result<AccountView, AccountError> {
    let profile = account::profile(conn)?;
    let today = account::today(conn, &profile.timezone)?;
    let next_invoice =
        numbering::next_sequence(conn, Series::Invoice, profile.number_reset, today)?;
    let next_credit_note =
        numbering::next_sequence(conn, Series::CreditNote, profile.number_reset, today)?;
    Ok(AccountView::new(profile, next_invoice, next_credit_note))
}

/// Applies `update`.
///
/// The rules between fields (a yearly reset needs a year in both number
/// formats) are checked on the row as the UPDATE left it: the UPDATE
/// row-locks it until commit, so a concurrent change of another field
/// either committed before (and is in the row checked) or waits for this
/// one (and is checked against it). No lock is taken before: every insert
/// of the account key-shares this row, and holding it locked while taking
/// the account's event counter deadlocked with them.
pub fn update(
    conn: &mut TenantConn<'_>,
    update: &ProfileUpdate,
) -> Result<AccountView, AccountError> {
    let changes = &update.changes;
    if let Some(timezone) = &changes.timezone
        && !account::timezone_exists(conn, timezone)?
    {
        return Err(AccountError::UnknownTimezone(timezone.clone()));
    }
    let profile = account::update_profile(conn, changes)?;
    let reset = profile.number_reset;
    for (field, format) in [
        ("invoice_number_format", &profile.invoice_number_format),
        (
            "credit_note_number_format",
            &profile.credit_note_number_format,
        ),
    ] {
        let checked = NumberFormat::parse(format).and_then(|f| f.check_reset(reset));
        if let Err(message) = checked {
            let field = if changes.number_reset == Some(NumberReset::Yearly)
                && changes.invoice_number_format.is_none()
                && changes.credit_note_number_format.is_none()
            {
                "number_reset"
            } else {
                field
            };
            return Err(AccountError::Inconsistent { field, message });
        }
    }
    let today = account::today(conn, &profile.timezone)?;
    for (series, next) in [
        (Series::Invoice, update.next_invoice_sequence),
        (Series::CreditNote, update.next_credit_note_sequence),
    ] {
        if let Some(next) = next {
            numbering::set_next_sequence(conn, series, profile.number_reset, today, next)?;
        }
    }
    view(conn)
}
