//! One module per table: its row struct, its insertable, and named queries.
//! Functions on tenant tables take a [`TenantConn`](crate::db::TenantConn)
//! and filter on its account in every query.

pub mod account;
pub mod api_key;
pub mod credit_note;
pub mod customer;
pub mod document;
pub mod event;
mod fragments;
pub mod idempotency_key;
pub mod invoice;
pub mod invoice_item;
pub mod number_sequence;
pub mod payment;
pub mod webhook_delivery;
pub mod webhook_endpoint;

/// A keyset page request: rows with an id greater than `after`, in id order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest<K = i64> {
    pub limit: u32,
    pub after: Option<K>,
}

impl<K> PageRequest<K> {
    /// How many rows to fetch: one more than the page, to learn whether
    /// another page follows without counting.
    pub fn fetch_limit(&self) -> i64 {
        i64::from(self.limit) + 1
    }
}

/// One page of rows, and whether more follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub rows: Vec<T>,
    pub has_more: bool,
}

impl<T> Page<T> {
    /// Trims the extra row fetched by [`PageRequest::fetch_limit`].
    pub fn from_rows<K>(mut rows: Vec<T>, request: &PageRequest<K>) -> Self {
        let limit = request.limit as usize;
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        Self { rows, has_more }
    }
}
