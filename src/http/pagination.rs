//! Keyset pagination as every list endpoint answers it:
//! `?limit=` (default 50, at most 200) and `?after=<id>`, answered with
//! `{"data": [...], "has_more": bool, "next_after": id|null}`.

use serde::Serialize;
use utoipa::ToSchema;

use super::error::ApiError;
use crate::models::{Page, PageRequest};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// Checks `limit` and `after` from a query string.
pub fn page_request(limit: Option<u32>, after: Option<i64>) -> Result<PageRequest, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "Query parameter limit must be between 1 and {MAX_LIMIT}, not {limit}"
        )));
    }
    if after.is_some_and(|after| after < 0) {
        return Err(ApiError::bad_request(
            "Query parameter after must be an id (0 or more)",
        ));
    }
    Ok(PageRequest { limit, after })
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct List<T: ToSchema> {
    pub data: Vec<T>,
    /// Whether another page follows.
    pub has_more: bool,
    /// The `after` that fetches the next page; null on the last page.
    pub next_after: Option<i64>,
}

impl<T: ToSchema> List<T> {
    /// `id` gives each item's id, for the cursor.
    pub fn from_page<R>(page: Page<R>, id: impl Fn(&R) -> i64, view: impl FnMut(R) -> T) -> Self {
        let next_after = if page.has_more {
            page.rows.last().map(&id)
        } else {
            None
        };
        Self {
            data: page.rows.into_iter().map(view).collect(),
            has_more: page.has_more,
            next_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_default_and_are_bounded() {
        assert_eq!(page_request(None, None).unwrap().limit, DEFAULT_LIMIT);
        assert_eq!(page_request(Some(200), Some(0)).unwrap().limit, 200);
        assert!(page_request(Some(0), None).is_err());
        assert!(page_request(Some(201), None).is_err());
        assert!(page_request(None, Some(-1)).is_err());
    }
}
