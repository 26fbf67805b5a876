//! Where everything goes on the page: an A4 layout of a document as a list
//! of pages, each a list of drawing operations (text at a point, rules,
//! filled boxes) that `pdf::render` writes out.
//!
//! The line table flows over as many pages as it needs; every page after
//! the first starts with the document's title and number and the table's
//! header again, and every page ends with the seller's line and "page n of
//! m".

use super::fonts::{Font, Weight};
use super::language::{Language, grouped_iban};
use crate::documents::model::{Delivery, Document, DocumentKind};
use crate::domain::{Money, TaxCategory};

/// A4 in points.
pub const PAGE_WIDTH: f32 = 595.28;
pub const PAGE_HEIGHT: f32 = 841.89;
const LEFT: f32 = 56.0;
const RIGHT: f32 = PAGE_WIDTH - 56.0;
const TOP: f32 = PAGE_HEIGHT - 56.0;
/// Content stops here; the footer sits below.
const BOTTOM: f32 = 72.0;
const FOOTER: f32 = 40.0;

const BODY: f32 = 9.0;
const SMALL: f32 = 8.0;
const LEADING: f32 = 1.3;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Color {
    Gray(f32),
    Rgb(f32, f32, f32),
}

const INK: Color = Color::Gray(0.0);
const MUTED: Color = Color::Gray(0.35);
const RULE: Color = Color::Gray(0.8);
const ACCENT: Color = Color::Rgb(0.10, 0.20, 0.45);
const HEADER_FILL: Color = Color::Gray(0.93);
pub const WATERMARK: Color = Color::Gray(0.88);

#[derive(Debug, Clone)]
pub enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        weight: Weight,
        color: Color,
        text: String,
    },
    Rule {
        x1: f32,
        x2: f32,
        y: f32,
        width: f32,
        color: Color,
    },
    Fill {
        x: f32,
        y: f32,
        width: f32,
        height: f32,
        color: Color,
    },
    /// Large text across the page at 45°, under everything else.
    Watermark { text: String },
}

#[derive(Debug, Default)]
pub struct Page {
    pub ops: Vec<Op>,
}

/// Text as the fonts can set it: tabs become spaces, other control
/// characters go.
fn printable(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

fn width(text: &str, weight: Weight, size: f32) -> f32 {
    Font::get(weight).width(text, size)
}

/// `text` broken into lines no wider than `max`: at spaces where it can,
/// inside a word that is wider than a whole line. Line breaks in the text
/// are kept.
pub fn wrap(text: &str, weight: Weight, size: f32, max: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let paragraph = printable(paragraph);
        let mut line = String::new();
        for word in paragraph.split(' ').filter(|w| !w.is_empty()) {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if width(&candidate, weight, size) <= max {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // A word wider than a line is cut where it must be.
            for c in word.chars() {
                let mut longer = line.clone();
                longer.push(c);
                if !line.is_empty() && width(&longer, weight, size) > max {
                    lines.push(std::mem::take(&mut line));
                    line.push(c);
                } else {
                    line = longer;
                }
            }
        }
        lines.push(line);
    }
    lines
}

/// The largest size up to `size` at which `text` fits `max` (at least 5 pt).
fn fitting(text: &str, weight: Weight, size: f32, max: f32) -> f32 {
    let wide = width(text, weight, size);
    if wide <= max {
        size
    } else {
        (size * max / wide).max(5.0)
    }
}

/// The columns of the line table: (left edge, right edge); numbers are
/// right-aligned at the right edge.
struct Columns {
    position: (f32, f32),
    description: (f32, f32),
    quantity: (f32, f32),
    unit_price: (f32, f32),
    tax: (f32, f32),
    net: (f32, f32),
}

const COLUMNS: Columns = Columns {
    position: (LEFT, LEFT + 24.0),
    description: (LEFT + 28.0, LEFT + 240.0),
    quantity: (LEFT + 244.0, LEFT + 292.0),
    unit_price: (LEFT + 296.0, LEFT + 372.0),
    tax: (LEFT + 376.0, LEFT + 406.0),
    net: (LEFT + 410.0, RIGHT),
};

struct Layout<'a> {
    document: &'a Document,
    language: Language,
    pages: Vec<Page>,
    /// The baseline of the next line on the current page.
    y: f32,
}

impl<'a> Layout<'a> {
    fn page(&mut self) -> &mut Page {
        self.pages.last_mut().expect("a page")
    }

    fn text(&mut self, x: f32, y: f32, size: f32, weight: Weight, color: Color, text: &str) {
        let text = printable(text);
        if text.is_empty() {
            return;
        }
        self.page().ops.push(Op::Text {
            x,
            y,
            size,
            weight,
            color,
            text,
        });
    }

    /// Right-aligned at `right`, shrunk if it would not fit `max`.
    fn text_right(&mut self, right: f32, y: f32, size: f32, weight: Weight, text: &str, max: f32) {
        let size = fitting(text, weight, size, max);
        let x = right - width(text, weight, size);
        self.text(x, y, size, weight, INK, text);
    }

    fn rule(&mut self, x1: f32, x2: f32, y: f32, width: f32, color: Color) {
        self.page().ops.push(Op::Rule {
            x1,
            x2,
            y,
            width,
            color,
        });
    }

    /// The number, or the word for a draft in this language.
    fn number(&self) -> String {
        self.document
            .number
            .clone()
            .unwrap_or_else(|| self.language.labels().draft.to_owned())
    }

    fn title(&self) -> &'static str {
        let labels = self.language.labels();
        match self.document.kind {
            DocumentKind::Invoice => labels.invoice,
            DocumentKind::CreditNote => labels.credit_note,
        }
    }

    fn new_page(&mut self) {
        let mut page = Page::default();
        if self.document.draft {
            page.ops.push(Op::Watermark {
                text: self.language.labels().draft.to_owned(),
            });
        }
        self.pages.push(page);
        self.y = TOP;
    }

    /// A page after the first: the title and number, then `table`'s header
    /// when the line table goes on.
    fn continuation(&mut self, table: bool) {
        self.new_page();
        let heading = format!(
            "{} {} ({})",
            self.title(),
            self.number(),
            self.language.labels().continued
        );
        let y = self.y;
        self.text(LEFT, y, 11.0, Weight::Bold, ACCENT, &heading);
        self.y -= 28.0;
        if table {
            self.table_header();
        }
    }

    /// Makes room for `height` more points, on a new page if need be.
    fn room(&mut self, height: f32, table: bool) {
        if self.y - height < BOTTOM {
            self.continuation(table);
        }
    }

    fn header(&mut self) {
        let document = self.document;
        let labels = self.language.labels();
        let seller = &document.seller;
        // The seller, top left.
        let mut y = TOP;
        self.text(
            LEFT,
            y,
            13.0,
            Weight::Bold,
            ACCENT,
            seller.registered_name(),
        );
        y -= 16.0;
        let mut details: Vec<String> = Vec::new();
        if let Some(trading) = seller.trading_name() {
            details.push(trading.to_owned());
        }
        details.extend(address_lines(seller.address.as_ref()));
        if let Some(vat_id) = &seller.vat_id {
            details.push(format!("{}: {vat_id}", labels.vat_id));
        }
        if let Some(number) = &seller.tax_number {
            details.push(format!("{}: {number}", labels.tax_number));
        }
        if let Some(phone) = &seller.phone {
            details.push(format!("{}: {phone}", labels.phone));
        }
        if let Some(email) = &seller.email {
            details.push(format!("{}: {email}", labels.email));
        }
        for line in details {
            for part in wrap(&line, Weight::Regular, SMALL, 220.0) {
                self.text(LEFT, y, SMALL, Weight::Regular, MUTED, &part);
                y -= SMALL * LEADING;
            }
        }

        // The title and the document's facts, top right.
        let title = self.title();
        let title_size = 20.0;
        let title_x = RIGHT - width(title, Weight::Bold, title_size);
        self.text(title_x, TOP - 4.0, title_size, Weight::Bold, ACCENT, title);
        if document.draft {
            let notice = labels.draft_notice;
            let x = RIGHT - width(notice, Weight::Bold, BODY);
            self.text(x, TOP - 20.0, BODY, Weight::Bold, MUTED, notice);
        }
        let mut facts: Vec<(&str, String)> = vec![(labels.number, self.number())];
        if let Some(date) = document.issue_date {
            facts.push((labels.issue_date, self.language.date(date)));
        }
        if let Some(date) = document.due_date {
            facts.push((labels.due_date, self.language.date(date)));
        }
        match document.delivery {
            Some(Delivery::Date(date)) => {
                facts.push((labels.service_date, self.language.date(date)))
            }
            Some(Delivery::Period { start, end }) => facts.push((
                labels.service_period,
                format!(
                    "{} – {}",
                    self.language.date(start),
                    self.language.date(end)
                ),
            )),
            None => {}
        }
        if let Some(preceding) = &document.preceding {
            let mut corrects = preceding.number.clone().unwrap_or_default();
            if let Some(date) = preceding.issue_date {
                corrects = format!("{corrects} ({})", self.language.date(date));
            }
            facts.push((labels.corrects, corrects));
        }
        let mut fact_y = TOP - 38.0;
        let label_x = RIGHT - 250.0;
        for (label, value) in facts {
            self.text(label_x, fact_y, BODY, Weight::Regular, MUTED, label);
            self.text_right(RIGHT, fact_y, BODY, Weight::Bold, &value, 170.0);
            fact_y -= BODY * LEADING + 2.0;
        }

        // The buyer, below the seller.
        y = y.min(TOP - 110.0) - 14.0;
        let buyer = &document.buyer;
        self.text(LEFT, y, SMALL, Weight::Regular, MUTED, labels.bill_to);
        y -= 13.0;
        for part in wrap(&buyer.name, Weight::Bold, 10.5, 260.0) {
            self.text(LEFT, y, 10.5, Weight::Bold, INK, &part);
            y -= 10.5 * LEADING;
        }
        let mut lines = address_lines(buyer.address.as_ref());
        if document.shows_vat_ids()
            && let Some(vat_id) = buyer.vat_id()
        {
            lines.push(format!("{}: {vat_id}", labels.vat_id));
        }
        if let Some(reference) = &buyer.buyer_reference {
            lines.push(format!("{}: {reference}", labels.buyer_reference));
        }
        for line in lines {
            for part in wrap(&line, Weight::Regular, BODY, 260.0) {
                self.text(LEFT, y, BODY, Weight::Regular, INK, &part);
                y -= BODY * LEADING;
            }
        }
        self.y = y.min(fact_y) - 22.0;
    }

    fn table_header(&mut self) {
        let labels = self.language.labels();
        let y = self.y;
        self.page().ops.push(Op::Fill {
            x: LEFT - 4.0,
            y: y - 5.0,
            width: RIGHT - LEFT + 8.0,
            height: 17.0,
            color: HEADER_FILL,
        });
        let size = 8.5;
        self.text(
            COLUMNS.position.0,
            y,
            size,
            Weight::Bold,
            INK,
            labels.position,
        );
        self.text(
            COLUMNS.description.0,
            y,
            size,
            Weight::Bold,
            INK,
            labels.description,
        );
        for ((_, right), label) in [
            (COLUMNS.quantity, labels.quantity),
            (COLUMNS.unit_price, labels.unit_price),
            (COLUMNS.tax, labels.tax),
            (COLUMNS.net, labels.net_amount),
        ] {
            self.text_right(right, y, size, Weight::Bold, label, 80.0);
        }
        self.y -= 20.0;
    }

    fn lines(&mut self) {
        self.table_header();
        let document = self.document;
        let currency = document.currency.as_str();
        let (left, right) = COLUMNS.description;
        for line in &document.lines {
            let description = wrap(&line.description, Weight::Regular, BODY, right - left);
            let height = description.len() as f32 * BODY * LEADING + 5.0;
            self.room(height, true);
            let y = self.y;
            let language = self.language;
            self.text_right(
                COLUMNS.position.1,
                y,
                BODY,
                Weight::Regular,
                &line.position.to_string(),
                24.0,
            );
            for (index, part) in description.iter().enumerate() {
                self.text(
                    left,
                    y - index as f32 * BODY * LEADING,
                    BODY,
                    Weight::Regular,
                    INK,
                    part,
                );
            }
            for ((column_left, column_right), value) in [
                (COLUMNS.quantity, language.quantity(&line.quantity)),
                (
                    COLUMNS.unit_price,
                    language.money(&line.unit_price, currency),
                ),
                (
                    COLUMNS.tax,
                    tax_label(language, line.tax_category, &line.tax_rate),
                ),
                (COLUMNS.net, language.money(&line.net_amount, currency)),
            ] {
                self.text_right(
                    column_right,
                    y,
                    BODY,
                    Weight::Regular,
                    &value,
                    column_right - column_left,
                );
            }
            self.y -= height;
            let rule_y = self.y + BODY * LEADING - 3.0;
            self.rule(LEFT, RIGHT, rule_y, 0.4, RULE);
        }
        self.y -= 10.0;
    }

    fn breakdown(&mut self) {
        let document = self.document;
        let language = self.language;
        let labels = language.labels();
        let currency = document.currency.as_str();
        let rows: Vec<(String, Vec<String>, String, String)> = document
            .breakdown
            .iter()
            .map(|entry| {
                let mut name = language.category(entry.category).to_owned();
                if matches!(entry.category, TaxCategory::S | TaxCategory::Z) {
                    name = format!("{name} {}", language.rate(&entry.rate));
                }
                let reason = entry
                    .exemption_reason
                    .as_deref()
                    .filter(|_| !matches!(entry.category, TaxCategory::S | TaxCategory::Z))
                    .map(|reason| wrap(reason, Weight::Regular, SMALL, 250.0))
                    .unwrap_or_default();
                (
                    name,
                    reason,
                    language.money(&entry.taxable_amount, currency),
                    language.money(&entry.tax_amount, currency),
                )
            })
            .collect();
        let height: f32 = 30.0
            + rows
                .iter()
                .map(|(_, reason, _, _)| {
                    BODY * LEADING + reason.len() as f32 * SMALL * LEADING + 2.0
                })
                .sum::<f32>();
        self.room(height, false);
        let mut y = self.y;
        self.text(LEFT, y, BODY, Weight::Bold, ACCENT, labels.tax_breakdown);
        self.text_right(
            LEFT + 390.0,
            y,
            SMALL,
            Weight::Regular,
            labels.taxable_amount,
            110.0,
        );
        self.text_right(RIGHT, y, SMALL, Weight::Regular, labels.tax, 80.0);
        y -= BODY * LEADING + 3.0;
        for (name, reason, taxable, tax) in rows {
            self.text(LEFT, y, BODY, Weight::Regular, INK, &name);
            self.text_right(LEFT + 390.0, y, BODY, Weight::Regular, &taxable, 110.0);
            self.text_right(RIGHT, y, BODY, Weight::Regular, &tax, 80.0);
            y -= BODY * LEADING;
            for part in reason {
                self.text(LEFT + 10.0, y, SMALL, Weight::Regular, MUTED, &part);
                y -= SMALL * LEADING;
            }
            y -= 2.0;
        }
        self.y = y - 8.0;
    }

    fn totals(&mut self) {
        let document = self.document;
        let labels = self.language.labels();
        let currency = document.currency.as_str();
        let money = |amount: &Money| self.language.money(amount, currency);
        let mut rows: Vec<(&str, String, bool)> = vec![
            (labels.subtotal, money(&document.subtotal), false),
            (labels.tax, money(&document.tax_total), false),
        ];
        match document.kind {
            DocumentKind::Invoice => {
                rows.push((labels.total, money(&document.total), true));
            }
            DocumentKind::CreditNote => {
                rows.push((labels.total_credited, money(&document.total), true));
            }
        }
        let height = rows.len() as f32 * (BODY * LEADING + 3.0) + 12.0;
        self.room(height, false);
        let label_x = RIGHT - 220.0;
        let mut y = self.y;
        for (label, value, strong) in rows {
            let weight = if strong {
                Weight::Bold
            } else {
                Weight::Regular
            };
            let size = if strong { 10.5 } else { BODY };
            if strong {
                y -= 4.0;
                self.rule(label_x, RIGHT, y + size + 2.0, 0.6, INK);
            }
            self.text(label_x, y, size, weight, INK, label);
            self.text_right(RIGHT, y, size, weight, &value, 130.0);
            y -= size * LEADING + 3.0;
        }
        self.y = y - 12.0;
    }

    /// A heading and wrapped paragraphs under it, moved to the next page
    /// whole when the heading would be left alone.
    fn section(&mut self, heading: &str, lines: &[String]) {
        let first = (BODY * LEADING) * 2.0 + 6.0;
        self.room(first, false);
        let y = self.y;
        self.text(LEFT, y, BODY, Weight::Bold, ACCENT, heading);
        self.y -= BODY * LEADING + 3.0;
        for line in lines {
            self.room(BODY * LEADING, false);
            let y = self.y;
            self.text(LEFT, y, BODY, Weight::Regular, INK, line);
            self.y -= BODY * LEADING;
        }
        self.y -= 10.0;
    }

    fn payment(&mut self) {
        let document = self.document;
        if document.kind != DocumentKind::Invoice || document.total.is_zero() {
            return;
        }
        let Some(iban) = &document.seller.iban else {
            return;
        };
        let language = self.language;
        let labels = language.labels();
        let amount = language.money(&document.total, &document.currency);
        let mut lines = wrap(
            &language.payment_request(&amount, document.due_date),
            Weight::Regular,
            BODY,
            RIGHT - LEFT,
        );
        lines.push(format!("{}: {}", labels.iban, grouped_iban(iban)));
        if let Some(bic) = &document.seller.bic {
            lines.push(format!("{}: {bic}", labels.bic));
        }
        lines.push(format!("{}: {}", labels.transfer_reference, self.number()));
        self.section(labels.payment, &lines);
    }

    fn texts(&mut self) {
        let labels = self.language.labels();
        let document = self.document;
        if let Some(reason) = &document.reason {
            let lines = wrap(reason, Weight::Regular, BODY, RIGHT - LEFT);
            self.section(labels.reason, &lines);
        }
        if let Some(notes) = &document.notes {
            let lines = wrap(notes, Weight::Regular, BODY, RIGHT - LEFT);
            self.section(labels.notes, &lines);
        }
    }

    /// Every page's last line: who issued it, and where in it the reader is.
    fn footers(&mut self) {
        let seller = &self.document.seller;
        let mut parts = vec![seller.registered_name().to_owned()];
        parts.extend(address_lines(seller.address.as_ref()));
        if let Some(vat_id) = &seller.vat_id {
            parts.push(format!("{} {vat_id}", self.language.labels().vat_id));
        }
        let line = parts.join(" · ");
        let size = fitting(&line, Weight::Regular, 7.0, RIGHT - LEFT - 90.0);
        let count = self.pages.len();
        let language = self.language;
        for (index, page) in self.pages.iter_mut().enumerate() {
            page.ops.push(Op::Rule {
                x1: LEFT,
                x2: RIGHT,
                y: FOOTER + 12.0,
                width: 0.4,
                color: RULE,
            });
            page.ops.push(Op::Text {
                x: LEFT,
                y: FOOTER,
                size,
                weight: Weight::Regular,
                color: MUTED,
                text: printable(&line),
            });
            let numbering = language.page_of(index + 1, count);
            page.ops.push(Op::Text {
                x: RIGHT - width(&numbering, Weight::Regular, 7.0),
                y: FOOTER,
                size: 7.0,
                weight: Weight::Regular,
                color: MUTED,
                text: numbering,
            });
        }
    }
}

fn tax_label(language: Language, category: TaxCategory, rate: &crate::domain::TaxRate) -> String {
    match category {
        TaxCategory::S | TaxCategory::Z => language.rate(rate),
        other => other.as_str().to_owned(),
    }
}

/// An address as printed lines: street lines, then postal code and city,
/// then the country.
fn address_lines(address: Option<&crate::domain::Address>) -> Vec<String> {
    let Some(address) = address else {
        return Vec::new();
    };
    let mut lines: Vec<String> = [&address.line1, &address.line2]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    let place = [&address.postal_code, &address.city]
        .into_iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    if !place.is_empty() {
        lines.push(place);
    }
    if let Some(country) = &address.country {
        lines.push(country.clone());
    }
    lines
}

/// The pages of `document` in `language`.
pub fn layout(document: &Document, language: Language) -> Vec<Page> {
    let mut layout = Layout {
        document,
        language,
        pages: Vec::new(),
        y: TOP,
    };
    layout.new_page();
    layout.header();
    layout.lines();
    layout.breakdown();
    layout.totals();
    layout.payment();
    layout.texts();
    layout.footers();
    layout.pages
}
