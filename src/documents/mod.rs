//! The documents a customer receives: one model of what an invoice or a
//! credit note says (parties, lines, tax breakdown, totals), of which the
//! PDF and both EN 16931 syntaxes are views, so they cannot disagree; and
//! what that model needs before it makes a valid e-invoice.

pub mod model;
pub mod requirements;

pub use model::{BuyerParty, SellerParty};
pub use requirements::{Missing, einvoice_gaps};
