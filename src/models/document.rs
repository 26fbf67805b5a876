//! `documents`: what an issued invoice or credit note was rendered to, as
//! it was rendered (see the documents migration for why it is stored).

use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::TenantConn;
use crate::schema::documents;

/// Whose document a row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Invoice(i64),
    CreditNote(i64),
}

impl Owner {
    fn columns(self) -> (Option<i64>, Option<i64>) {
        match self {
            Owner::Invoice(id) => (Some(id), None),
            Owner::CreditNote(id) => (None, Some(id)),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = documents, check_for_backend(diesel::pg::Pg))]
pub struct Stored {
    pub format: String,
    pub language: String,
    pub content: Vec<u8>,
    pub sha256: Vec<u8>,
}

#[derive(Insertable)]
#[diesel(table_name = documents, treat_none_as_default_value = false)]
struct NewDocument<'a> {
    account_id: &'a str,
    invoice_id: Option<i64>,
    credit_note_id: Option<i64>,
    format: &'a str,
    language: &'a str,
    content: &'a [u8],
    sha256: &'a [u8],
}

/// The owner's document of `format` in `language` ('' for XML); with
/// `language` None, its first PDF (the one produced when it was issued).
pub fn find(
    conn: &mut TenantConn<'_>,
    owner: Owner,
    format: &str,
    language: Option<&str>,
) -> QueryResult<Option<Stored>> {
    let account_id = conn.account_id().to_owned();
    let mut query = documents::table
        .filter(documents::account_id.eq(account_id))
        .filter(documents::format.eq(format))
        .select(Stored::as_select())
        .order(documents::id)
        .into_boxed();
    query = match owner {
        Owner::Invoice(id) => query.filter(documents::invoice_id.eq(id)),
        Owner::CreditNote(id) => query.filter(documents::credit_note_id.eq(id)),
    };
    if let Some(language) = language {
        query = query.filter(documents::language.eq(language));
    }
    query.first(conn.pg()).optional()
}

/// Whether anything was stored for the owner yet.
pub fn any(conn: &mut TenantConn<'_>, owner: Owner) -> QueryResult<bool> {
    let account_id = conn.account_id().to_owned();
    let query = documents::table
        .filter(documents::account_id.eq(account_id))
        .select(documents::id);
    let found = match owner {
        Owner::Invoice(id) => query
            .filter(documents::invoice_id.eq(id))
            .first::<i64>(conn.pg())
            .optional()?,
        Owner::CreditNote(id) => query
            .filter(documents::credit_note_id.eq(id))
            .first::<i64>(conn.pg())
            .optional()?,
    };
    Ok(found.is_some())
}

/// Stores a document, unless one of that format and language is stored
/// already (a concurrent first fetch): either way, answers the one stored.
pub fn insert(
    conn: &mut TenantConn<'_>,
    owner: Owner,
    format: &str,
    language: &str,
    content: &[u8],
) -> QueryResult<Stored> {
    let account_id = conn.account_id().to_owned();
    let (invoice_id, credit_note_id) = owner.columns();
    let sha256 = Sha256::digest(content);
    diesel::insert_into(documents::table)
        .values(NewDocument {
            account_id: &account_id,
            invoice_id,
            credit_note_id,
            format,
            language,
            content,
            sha256: sha256.as_slice(),
        })
        .on_conflict_do_nothing()
        .execute(conn.pg())?;
    find(conn, owner, format, Some(language))?.ok_or(diesel::result::Error::NotFound)
}
