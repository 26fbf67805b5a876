//! PostgreSQL's COPY text format.

use std::fmt::Write as _;

/// One COPY line being built: fields separated by tabs, `\N` for NULL.
#[derive(Default)]
pub struct Line {
    text: String,
    fields: usize,
}

impl Line {
    pub fn new() -> Self {
        Self::default()
    }

    fn separator(&mut self) {
        if self.fields > 0 {
            self.text.push('\t');
        }
        self.fields += 1;
    }

    /// A text field, escaped: backslash, tab, newline and carriage return.
    pub fn text(&mut self, value: &str) -> &mut Self {
        self.separator();
        for c in value.chars() {
            match c {
                '\\' => self.text.push_str("\\\\"),
                '\t' => self.text.push_str("\\t"),
                '\n' => self.text.push_str("\\n"),
                '\r' => self.text.push_str("\\r"),
                c => self.text.push(c),
            }
        }
        self
    }

    pub fn optional_text(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.text(value),
            None => self.null(),
        }
    }

    /// A field whose text needs no escaping (numbers, dates, timestamps).
    pub fn plain(&mut self, value: impl std::fmt::Display) -> &mut Self {
        self.separator();
        let _ = write!(self.text, "{value}");
        self
    }

    pub fn optional_plain(&mut self, value: Option<impl std::fmt::Display>) -> &mut Self {
        match value {
            Some(value) => self.plain(value),
            None => self.null(),
        }
    }

    pub fn null(&mut self) -> &mut Self {
        self.separator();
        self.text.push_str("\\N");
        self
    }

    /// The line with its newline, ready for the COPY stream.
    pub fn finish(&mut self) -> &str {
        self.text.push('\n');
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_escaped_and_nulls_marked() {
        let mut line = Line::new();
        line.text("a\tb\\c\nd\re")
            .null()
            .plain(12)
            .optional_text(None)
            .optional_plain(Some("x"));
        assert_eq!(line.finish(), "a\\tb\\\\c\\nd\\re\t\\N\t12\t\\N\tx\n");
    }
}
