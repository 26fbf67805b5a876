use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{Money, PaymentMethod};
use crate::models::payment::Payment;

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PaymentView {
    pub id: i64,
    pub invoice_id: i64,
    pub amount: Money,
    pub paid_at: DateTime<Utc>,
    pub method: Option<PaymentMethod>,
    pub reference: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<Payment> for PaymentView {
    fn from(row: Payment) -> Self {
        Self {
            id: row.id,
            invoice_id: row.invoice_id,
            amount: Money::from_db(row.amount),
            paid_at: row.paid_at,
            method: row.method,
            reference: row.reference,
            created_at: row.created_at,
        }
    }
}
