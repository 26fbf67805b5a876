//! Just enough XML writing for the two e-invoice syntaxes: elements in the
//! order the caller opens them, text and attributes escaped, indented by
//! two spaces, UTF-8. The output depends on nothing but the calls, so the
//! same document always gives the same bytes.

pub struct XmlWriter {
    out: String,
    open: Vec<&'static str>,
    /// Whether the element opened last has children (its end tag then goes
    /// on a line of its own).
    has_children: Vec<bool>,
}

impl XmlWriter {
    pub fn new() -> Self {
        Self {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
            open: Vec::new(),
            has_children: Vec::new(),
        }
    }

    fn indent(&mut self) {
        for _ in 0..self.open.len() {
            self.out.push_str("  ");
        }
    }

    fn start_tag(&mut self, name: &'static str, attributes: &[(&str, &str)]) {
        if let Some(parent) = self.has_children.last_mut() {
            if !*parent {
                self.out.push('\n');
            }
            *parent = true;
        }
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attributes {
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            escape_into(&mut self.out, value, true);
            self.out.push('"');
        }
        self.out.push('>');
    }

    /// Opens `name`; its children follow until [`XmlWriter::close`].
    pub fn open(&mut self, name: &'static str, attributes: &[(&str, &str)]) -> &mut Self {
        self.start_tag(name, attributes);
        self.open.push(name);
        self.has_children.push(false);
        self
    }

    /// Closes the element opened last.
    pub fn close(&mut self) -> &mut Self {
        let name = self.open.pop().expect("an open element to close");
        let had_children = self.has_children.pop().unwrap_or(false);
        if had_children {
            self.indent();
        }
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
        self
    }

    /// `<name attributes…>text</name>`.
    pub fn text_with(
        &mut self,
        name: &'static str,
        attributes: &[(&str, &str)],
        text: &str,
    ) -> &mut Self {
        self.start_tag(name, attributes);
        escape_into(&mut self.out, text, false);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
        self
    }

    pub fn text(&mut self, name: &'static str, text: &str) -> &mut Self {
        self.text_with(name, &[], text)
    }

    /// The element when there is a value; nothing otherwise.
    pub fn optional(&mut self, name: &'static str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.text(name, text);
        }
        self
    }

    pub fn finish(self) -> Vec<u8> {
        assert!(self.open.is_empty(), "unclosed elements: {:?}", self.open);
        self.out.into_bytes()
    }
}

impl Default for XmlWriter {
    fn default() -> Self {
        Self::new()
    }
}

/// Escapes markup, and drops what XML 1.0 cannot carry at all (control
/// characters other than tab, line feed and carriage return; the service
/// refuses them on input, legacy data may still hold them).
fn escape_into(out: &mut String, text: &str, attribute: bool) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attribute => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nests_indents_and_escapes() {
        let mut xml = XmlWriter::new();
        xml.open("a", &[("x", "1 & \"2\"")])
            .text("b", "<tag> & text")
            .open("c", &[])
            .text("d", "bell\u{7}less")
            .close()
            .close();
        assert_eq!(
            String::from_utf8(xml.finish()).unwrap(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <a x=\"1 &amp; &quot;2&quot;\">\n  <b>&lt;tag&gt; &amp; text</b>\n  <c>\n    <d>bellless</d>\n  </c>\n</a>\n"
        );
    }
}
