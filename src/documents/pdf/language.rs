//! What a PDF says in each language, and how it writes amounts, dates and
//! quantities there (`1.234,56 €` and `01.12.2026` in German, `€1,234.56`
//! and `1 December 2026` in English).

use chrono::{Datelike, NaiveDate};

use crate::domain::{Locale, TaxCategory};

/// The fixed words of a document in one language.
pub struct Labels {
    pub invoice: &'static str,
    pub credit_note: &'static str,
    pub draft: &'static str,
    pub draft_notice: &'static str,
    pub number: &'static str,
    pub issue_date: &'static str,
    pub due_date: &'static str,
    pub service_date: &'static str,
    pub service_period: &'static str,
    pub corrects: &'static str,
    pub reason: &'static str,
    pub bill_to: &'static str,
    pub vat_id: &'static str,
    pub tax_number: &'static str,
    pub buyer_reference: &'static str,
    pub position: &'static str,
    pub description: &'static str,
    pub quantity: &'static str,
    pub unit_price: &'static str,
    pub tax: &'static str,
    pub net_amount: &'static str,
    pub subtotal: &'static str,
    pub total: &'static str,
    pub total_credited: &'static str,
    pub tax_breakdown: &'static str,
    pub taxable_amount: &'static str,
    pub notes: &'static str,
    pub payment: &'static str,
    pub iban: &'static str,
    pub bic: &'static str,
    pub transfer_reference: &'static str,
    pub continued: &'static str,
    pub page_of: &'static str,
    pub phone: &'static str,
    pub email: &'static str,
}

const EN: Labels = Labels {
    invoice: "Invoice",
    credit_note: "Credit note",
    draft: "DRAFT",
    draft_notice: "DRAFT – a preview, not an invoice",
    number: "Number",
    issue_date: "Date",
    due_date: "Due date",
    service_date: "Service date",
    service_period: "Service period",
    corrects: "Corrects invoice",
    reason: "Reason",
    bill_to: "Bill to",
    vat_id: "VAT ID",
    tax_number: "Tax number",
    buyer_reference: "Buyer reference",
    position: "Pos.",
    description: "Description",
    quantity: "Qty",
    unit_price: "Unit price",
    tax: "VAT",
    net_amount: "Net amount",
    subtotal: "Subtotal",
    total: "Total",
    total_credited: "Total credited",
    tax_breakdown: "VAT breakdown",
    taxable_amount: "Taxable amount",
    notes: "Notes",
    payment: "Payment",
    iban: "IBAN",
    bic: "BIC",
    transfer_reference: "Reference",
    continued: "continued",
    page_of: "Page {n} of {m}",
    phone: "Phone",
    email: "Email",
};

const DE: Labels = Labels {
    invoice: "Rechnung",
    credit_note: "Gutschrift",
    draft: "ENTWURF",
    draft_notice: "ENTWURF – eine Vorschau, keine Rechnung",
    number: "Nummer",
    issue_date: "Datum",
    due_date: "Fällig am",
    service_date: "Leistungsdatum",
    service_period: "Leistungszeitraum",
    corrects: "Korrektur zu Rechnung",
    reason: "Grund",
    bill_to: "Rechnungsempfänger",
    vat_id: "USt-IdNr.",
    tax_number: "Steuernummer",
    buyer_reference: "Käuferreferenz",
    position: "Pos.",
    description: "Beschreibung",
    quantity: "Menge",
    unit_price: "Einzelpreis",
    tax: "USt.",
    net_amount: "Nettobetrag",
    subtotal: "Nettosumme",
    total: "Gesamtbetrag",
    total_credited: "Gutschriftsbetrag",
    tax_breakdown: "Umsatzsteuer",
    taxable_amount: "Bemessungsgrundlage",
    notes: "Anmerkungen",
    payment: "Zahlung",
    iban: "IBAN",
    bic: "BIC",
    transfer_reference: "Verwendungszweck",
    continued: "Fortsetzung",
    page_of: "Seite {n} von {m}",
    phone: "Telefon",
    email: "E-Mail",
};

/// A document's language: its words and its formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Language(pub Locale);

impl Language {
    pub fn labels(self) -> &'static Labels {
        match self.0 {
            Locale::En => &EN,
            Locale::De => &DE,
        }
    }

    /// The BCP 47 tag of the PDF's /Lang.
    pub fn tag(self) -> &'static str {
        self.0.as_str()
    }

    fn separators(self) -> (char, char) {
        match self.0 {
            Locale::En => (',', '.'),
            Locale::De => ('.', ','),
        }
    }

    /// A decimal string (`1234.5`, as the domain types print) with this
    /// language's grouping and decimal separators, keeping its decimals.
    pub fn number(self, plain: &str) -> String {
        let (group, decimal) = self.separators();
        let (sign, digits) = match plain.strip_prefix('-') {
            Some(rest) => ("-", rest),
            None => ("", plain),
        };
        let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
        let mut grouped = String::new();
        for (index, digit) in whole.chars().enumerate() {
            if index > 0 && (whole.len() - index).is_multiple_of(3) {
                grouped.push(group);
            }
            grouped.push(digit);
        }
        if fraction.is_empty() {
            format!("{sign}{grouped}")
        } else {
            format!("{sign}{grouped}{decimal}{fraction}")
        }
    }

    /// An amount in `currency`: `€1,234.56` / `1.234,56 €`; currencies
    /// without a common symbol by their code.
    pub fn money(self, amount: &impl std::fmt::Display, currency: &str) -> String {
        let number = self.number(&amount.to_string());
        let symbol = match currency {
            "EUR" => Some("€"),
            "USD" => Some("$"),
            "GBP" => Some("£"),
            "JPY" => Some("¥"),
            _ => None,
        };
        match (self.0, symbol) {
            (Locale::En, Some(symbol)) => format!("{symbol}{number}"),
            (Locale::En, None) => format!("{currency} {number}"),
            (Locale::De, Some(symbol)) => format!("{number} {symbol}"),
            (Locale::De, None) => format!("{number} {currency}"),
        }
    }

    /// A quantity without trailing zeros: `1.5`, `1,5`, `2`.
    pub fn quantity(self, quantity: &impl std::fmt::Display) -> String {
        let plain = quantity.to_string();
        let trimmed = if plain.contains('.') {
            plain.trim_end_matches('0').trim_end_matches('.')
        } else {
            &plain
        };
        self.number(trimmed)
    }

    /// A tax rate: `19%` / `19 %`, `7.5%` / `7,5 %`.
    pub fn rate(self, rate: &impl std::fmt::Display) -> String {
        let number = self.quantity(rate);
        match self.0 {
            Locale::En => format!("{number}%"),
            Locale::De => format!("{number} %"),
        }
    }

    pub fn date(self, date: NaiveDate) -> String {
        match self.0 {
            Locale::En => {
                const MONTHS: [&str; 12] = [
                    "January",
                    "February",
                    "March",
                    "April",
                    "May",
                    "June",
                    "July",
                    "August",
                    "September",
                    "October",
                    "November",
                    "December",
                ];
                format!(
                    "{} {} {}",
                    date.day(),
                    MONTHS[date.month0() as usize],
                    date.year()
                )
            }
            Locale::De => date.format("%d.%m.%Y").to_string(),
        }
    }

    /// What a tax category is called on the page.
    pub fn category(self, category: TaxCategory) -> &'static str {
        match (self.0, category) {
            (Locale::En, TaxCategory::S) => "Standard rate",
            (Locale::En, TaxCategory::Z) => "Zero rated",
            (Locale::En, TaxCategory::E) => "Exempt",
            (Locale::En, TaxCategory::AE) => "Reverse charge",
            (Locale::En, TaxCategory::K) => "Intra-community supply",
            (Locale::En, TaxCategory::G) => "Export outside the EU",
            (Locale::En, TaxCategory::O) => "Outside the scope of VAT",
            (Locale::De, TaxCategory::S) => "Regelsteuersatz",
            (Locale::De, TaxCategory::Z) => "Nullsatz",
            (Locale::De, TaxCategory::E) => "Steuerbefreit",
            (Locale::De, TaxCategory::AE) => "Steuerschuldnerschaft des Leistungsempfängers",
            (Locale::De, TaxCategory::K) => "Innergemeinschaftliche Lieferung",
            (Locale::De, TaxCategory::G) => "Ausfuhrlieferung",
            (Locale::De, TaxCategory::O) => "Nicht steuerbar",
        }
    }

    /// The sentence that asks for payment.
    pub fn payment_request(self, amount: &str, due: Option<NaiveDate>) -> String {
        match (self.0, due) {
            (Locale::En, Some(due)) => format!(
                "Please transfer {amount} by {} to the account below, quoting the reference.",
                self.date(due)
            ),
            (Locale::En, None) => {
                format!("Please transfer {amount} to the account below, quoting the reference.")
            }
            (Locale::De, Some(due)) => format!(
                "Bitte überweisen Sie {amount} bis zum {} unter Angabe des Verwendungszwecks auf das folgende Konto.",
                self.date(due)
            ),
            (Locale::De, None) => format!(
                "Bitte überweisen Sie {amount} unter Angabe des Verwendungszwecks auf das folgende Konto."
            ),
        }
    }

    pub fn page_of(self, page: usize, pages: usize) -> String {
        self.labels()
            .page_of
            .replace("{n}", &page.to_string())
            .replace("{m}", &pages.to_string())
    }
}

/// An IBAN in groups of four, as it is printed.
pub fn grouped_iban(iban: &str) -> String {
    iban.as_bytes()
        .chunks(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_dates_and_quantities_follow_the_language() {
        let de = Language(Locale::De);
        let en = Language(Locale::En);
        assert_eq!(de.money(&"1234.56", "EUR"), "1.234,56 €");
        assert_eq!(en.money(&"1234.56", "EUR"), "€1,234.56");
        assert_eq!(en.money(&"1234567.00", "CHF"), "CHF 1,234,567.00");
        assert_eq!(de.money(&"0.50", "SEK"), "0,50 SEK");
        assert_eq!(en.money(&"-12.00", "USD"), "$-12.00");
        assert_eq!(de.quantity(&"1.500"), "1,5");
        assert_eq!(en.quantity(&"2.000"), "2");
        assert_eq!(en.quantity(&"1000.250"), "1,000.25");
        assert_eq!(de.rate(&"19.00"), "19 %");
        assert_eq!(en.rate(&"7.50"), "7.5%");
        let date = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(de.date(date), "01.12.2026");
        assert_eq!(en.date(date), "1 December 2026");
        assert_eq!(
            grouped_iban("DE89370400440532013000"),
            "DE89 3704 0044 0532 0130 00"
        );
        assert_eq!(de.page_of(2, 3), "Seite 2 von 3");
    }
}
