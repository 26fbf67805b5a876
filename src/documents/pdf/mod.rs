//! The PDF: an A4 document in PDF/A-3b (ISO 19005-3, level B), with the
//! EN 16931 CII XML embedded as `factur-x.xml` the way Factur-X 1.07 /
//! ZUGFeRD 2.3 ask for (an associated file with relationship Alternative,
//! the Factur-X properties in the XMP metadata with their PDF/A extension
//! schema).
//!
//! What PDF/A-3b asks of a file, and where this writer does it:
//! - every font embedded (a subset of Liberation Sans, its widths taken
//!   from the same font program) with a ToUnicode map, so text can be
//!   extracted and searched;
//! - device colours only under an output intent (the sRGB profile of
//!   `icc`);
//! - XMP metadata (uncompressed) declaring PDF/A-3 B, consistent with the
//!   document information dictionary;
//! - a file identifier; no encryption, no transparency, no JavaScript;
//! - embedded files only as associated files with a MIME type, a
//!   modification date and a relationship.
//!
//! Nothing in the output depends on the time or the machine: dates are the
//! document's own, the file identifier and the font subset names are
//! derived from its content, and the fonts come with the binary. The same
//! document renders to the same bytes.

mod fonts;
mod icc;
pub mod language;
pub mod layout;

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Timelike, Utc};
use pdf_writer::types::{AssociationKind, CidFontType, FontFlags, OutputIntentSubtype, SystemInfo};
use pdf_writer::{Content, Date, Filter, Finish, Name, Pdf, Rect, Ref, Str, TextStr};
use sha2::{Digest, Sha256};

use self::fonts::{Font, Subset, Weight};
use self::language::Language;
use self::layout::{Color, Op, PAGE_HEIGHT, PAGE_WIDTH, Page};
use super::model::{Document, DocumentKind};
use crate::domain::Locale;

/// What the embedded e-invoice is called (Factur-X 1.07, section 6).
pub const FACTUR_X_FILE_NAME: &str = "factur-x.xml";
/// The Factur-X XMP namespace and the profile the embedded XML is in.
const FACTUR_X_NAMESPACE: &str = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#";
const FACTUR_X_PROFILE: &str = "EN 16931";

fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}

fn pdf_date(at: DateTime<Utc>) -> Date {
    Date::new(u16::try_from(at.year()).unwrap_or(9999))
        .month(at.month() as u8)
        .day(at.day() as u8)
        .hour(at.hour() as u8)
        .minute(at.minute() as u8)
        .second(at.second() as u8)
        .utc_offset_hour(0)
        .utc_offset_minute(0)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The document's title, as the viewer's window shows it.
fn title(document: &Document, language: Language) -> String {
    let labels = language.labels();
    let kind = match document.kind {
        DocumentKind::Invoice => labels.invoice,
        DocumentKind::CreditNote => labels.credit_note,
    };
    let number = document
        .number
        .clone()
        .unwrap_or_else(|| labels.draft.to_owned());
    format!("{kind} {number}")
}

/// The XMP metadata packet: PDF/A identification, the same facts as the
/// information dictionary, and (with an embedded e-invoice) the Factur-X
/// properties with the extension schema that declares them.
fn xmp(title: &str, author: &str, at: &str, factur_x: bool) -> Vec<u8> {
    let producer = producer();
    let mut xmp = format!(
        "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n\
         <x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n\
         <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n\
         <rdf:Description rdf:about=\"\" xmlns:pdfaid=\"http://www.aiim.org/pdfa/ns/id/\">\n\
         <pdfaid:part>3</pdfaid:part>\n\
         <pdfaid:conformance>B</pdfaid:conformance>\n\
         </rdf:Description>\n\
         <rdf:Description rdf:about=\"\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n\
         <dc:format>application/pdf</dc:format>\n\
         <dc:title><rdf:Alt><rdf:li xml:lang=\"x-default\">{title}</rdf:li></rdf:Alt></dc:title>\n\
         <dc:creator><rdf:Seq><rdf:li>{author}</rdf:li></rdf:Seq></dc:creator>\n\
         </rdf:Description>\n\
         <rdf:Description rdf:about=\"\" xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\">\n\
         <xmp:CreatorTool>invoiced</xmp:CreatorTool>\n\
         <xmp:CreateDate>{at}</xmp:CreateDate>\n\
         <xmp:ModifyDate>{at}</xmp:ModifyDate>\n\
         </rdf:Description>\n\
         <rdf:Description rdf:about=\"\" xmlns:pdf=\"http://ns.adobe.com/pdf/1.3/\">\n\
         <pdf:Producer>{producer}</pdf:Producer>\n\
         </rdf:Description>\n",
        title = escape(title),
        author = escape(author),
    );
    if factur_x {
        let property = |name: &str, description: &str| {
            format!(
                "<rdf:li rdf:parseType=\"Resource\">\n\
                 <pdfaProperty:name>{name}</pdfaProperty:name>\n\
                 <pdfaProperty:valueType>Text</pdfaProperty:valueType>\n\
                 <pdfaProperty:category>external</pdfaProperty:category>\n\
                 <pdfaProperty:description>{description}</pdfaProperty:description>\n\
                 </rdf:li>\n"
            )
        };
        xmp.push_str(&format!(
            "<rdf:Description rdf:about=\"\" xmlns:fx=\"{FACTUR_X_NAMESPACE}\">\n\
             <fx:DocumentType>INVOICE</fx:DocumentType>\n\
             <fx:DocumentFileName>{FACTUR_X_FILE_NAME}</fx:DocumentFileName>\n\
             <fx:Version>1.0</fx:Version>\n\
             <fx:ConformanceLevel>{FACTUR_X_PROFILE}</fx:ConformanceLevel>\n\
             </rdf:Description>\n\
             <rdf:Description rdf:about=\"\" \
             xmlns:pdfaExtension=\"http://www.aiim.org/pdfa/ns/extension/\" \
             xmlns:pdfaSchema=\"http://www.aiim.org/pdfa/ns/schema#\" \
             xmlns:pdfaProperty=\"http://www.aiim.org/pdfa/ns/property#\">\n\
             <pdfaExtension:schemas><rdf:Bag>\n\
             <rdf:li rdf:parseType=\"Resource\">\n\
             <pdfaSchema:schema>Factur-X PDFA Extension Schema</pdfaSchema:schema>\n\
             <pdfaSchema:namespaceURI>{FACTUR_X_NAMESPACE}</pdfaSchema:namespaceURI>\n\
             <pdfaSchema:prefix>fx</pdfaSchema:prefix>\n\
             <pdfaSchema:property><rdf:Seq>\n\
             {}{}{}{}\
             </rdf:Seq></pdfaSchema:property>\n\
             </rdf:li>\n\
             </rdf:Bag></pdfaExtension:schemas>\n\
             </rdf:Description>\n",
            property("DocumentFileName", "The name of the embedded XML document"),
            property("DocumentType", "The type of the hybrid document: INVOICE"),
            property("Version", "The version of the Factur-X XML schema"),
            property(
                "ConformanceLevel",
                "The conformance level of the embedded XML"
            ),
        ));
    }
    xmp.push_str("</rdf:RDF>\n</x:xmpmeta>\n<?xpacket end=\"w\"?>");
    xmp.into_bytes()
}

fn producer() -> String {
    format!("invoiced {}", env!("CARGO_PKG_VERSION"))
}

/// Allocates object numbers in order.
struct Refs(i32);

impl Refs {
    fn next(&mut self) -> Ref {
        self.0 += 1;
        Ref::new(self.0)
    }
}

fn set_fill(content: &mut Content, color: Color) {
    match color {
        Color::Gray(gray) => content.set_fill_gray(gray),
        Color::Rgb(r, g, b) => content.set_fill_rgb(r, g, b),
    };
}

/// A text string as the CIDs of `subset` (Identity-H: two bytes each).
fn encode(text: &str, font: &Font, subset: &Subset) -> Vec<u8> {
    text.chars()
        .flat_map(|c| subset.cid(font, c).to_be_bytes())
        .collect()
}

fn page_content(page: &Page, subsets: &[Subset; 2]) -> Vec<u8> {
    let mut content = Content::new();
    for op in &page.ops {
        match op {
            Op::Text {
                x,
                y,
                size,
                weight,
                color,
                text,
            } => {
                let font = Font::get(*weight);
                let subset = &subsets[*weight as usize];
                content.begin_text();
                content.set_font(Name(weight.resource()), *size);
                set_fill(&mut content, *color);
                content.next_line(*x, *y);
                content.show(Str(&encode(text, font, subset)));
                content.end_text();
            }
            Op::Rule {
                x1,
                x2,
                y,
                width,
                color,
            } => {
                match color {
                    Color::Gray(gray) => content.set_stroke_gray(*gray),
                    Color::Rgb(r, g, b) => content.set_stroke_rgb(*r, *g, *b),
                };
                content
                    .set_line_width(*width)
                    .move_to(*x1, *y)
                    .line_to(*x2, *y)
                    .stroke();
            }
            Op::Fill {
                x,
                y,
                width,
                height,
                color,
            } => {
                set_fill(&mut content, *color);
                content.rect(*x, *y, *width, *height).fill_nonzero();
            }
            Op::Watermark { text } => {
                let weight = Weight::Bold;
                let font = Font::get(weight);
                let size = 110.0;
                let (sin, cos) = std::f32::consts::FRAC_PI_4.sin_cos();
                let half = font.width(text, size) / 2.0;
                let rise = font.cap_height() * size / 1000.0 / 2.0;
                // Centred on the page, along the diagonal.
                let x = PAGE_WIDTH / 2.0 - half * cos + rise * sin;
                let y = PAGE_HEIGHT / 2.0 - half * sin - rise * cos;
                content.save_state();
                set_fill(&mut content, layout::WATERMARK);
                content.begin_text();
                content.set_font(Name(weight.resource()), size);
                content.set_text_matrix([cos, sin, -sin, cos, x, y]);
                content.show(Str(&encode(text, font, &subsets[weight as usize])));
                content.end_text();
                content.restore_state();
            }
        }
    }
    content.finish().into_vec()
}

/// Writes one font as a Type 0 font over a CIDFontType2 (TrueType
/// outlines, CIDs = the subset's glyph ids).
fn write_font(pdf: &mut Pdf, refs: &mut Refs, font_ref: Ref, weight: Weight, subset: &Subset) {
    let font = Font::get(weight);
    let cid_ref = refs.next();
    let descriptor_ref = refs.next();
    let program_ref = refs.next();
    let cmap_ref = refs.next();
    let base_font = format!("{}+{}", subset.tag, font.postscript_name);
    let system_info = SystemInfo {
        registry: Str(b"Adobe"),
        ordering: Str(b"Identity"),
        supplement: 0,
    };
    pdf.type0_font(font_ref)
        .base_font(Name(base_font.as_bytes()))
        .encoding_predefined(Name(b"Identity-H"))
        .descendant_font(cid_ref)
        .to_unicode(cmap_ref);
    let cids = subset.cids(font);
    let mut cid_font = pdf.cid_font(cid_ref);
    cid_font
        .subtype(CidFontType::Type2)
        .base_font(Name(base_font.as_bytes()))
        .system_info(system_info)
        .font_descriptor(descriptor_ref)
        .cid_to_gid_map_predefined(Name(b"Identity"));
    let mut widths = cid_font.widths();
    for (cid, advance, _) in &cids {
        widths.consecutive(*cid, [*advance]);
    }
    widths.finish();
    cid_font.finish();

    let [x0, y0, x1, y1] = font.bbox();
    let mut flags = FontFlags::SYMBOLIC;
    if weight == Weight::Bold {
        flags |= FontFlags::FORCE_BOLD;
    }
    pdf.font_descriptor(descriptor_ref)
        .name(Name(base_font.as_bytes()))
        .flags(flags)
        .bbox(Rect::new(x0, y0, x1, y1))
        .italic_angle(font.italic_angle())
        .ascent(font.ascent())
        .descent(font.descent())
        .cap_height(font.cap_height())
        .stem_v(if weight == Weight::Bold { 140.0 } else { 80.0 })
        .font_file2(program_ref);
    let program = deflate(&subset.program);
    pdf.stream(program_ref, &program)
        .filter(Filter::FlateDecode)
        .pair(Name(b"Length1"), subset.program.len() as i32);

    let mut cmap = pdf_writer::types::UnicodeCmap::new(Name(b"Custom"), system_info);
    for (cid, _, c) in &cids {
        if let Some(c) = c {
            cmap.pair(*cid, *c);
        }
    }
    let cmap = cmap.finish();
    pdf.cmap(cmap_ref, &cmap);
}

/// The document as a PDF/A-3b file in `language`; with `factur_x`, that
/// XML is embedded as the document's Factur-X e-invoice.
pub fn render(document: &Document, language: Locale, factur_x: Option<&[u8]>) -> Vec<u8> {
    let language = Language(language);
    let pages = layout::layout(document, language);

    // The glyphs each font draws, then each font cut down to them.
    let mut used: [BTreeSet<char>; 2] = [BTreeSet::new(), BTreeSet::new()];
    for page in &pages {
        for op in &page.ops {
            match op {
                Op::Text { weight, text, .. } => used[*weight as usize].extend(text.chars()),
                Op::Watermark { text } => used[Weight::Bold as usize].extend(text.chars()),
                _ => {}
            }
        }
    }
    let subsets = Weight::ALL
        .map(|weight| Subset::new(Font::get(weight), used[weight as usize].iter().copied()));

    let mut pdf = Pdf::new();
    let mut refs = Refs(0);
    let catalog_ref = refs.next();
    let tree_ref = refs.next();
    let font_refs = [refs.next(), refs.next()];
    let page_refs: Vec<(Ref, Ref)> = pages.iter().map(|_| (refs.next(), refs.next())).collect();

    pdf.pages(tree_ref)
        .kids(page_refs.iter().map(|(page, _)| *page))
        .count(pages.len() as i32);
    for (page, (page_ref, content_ref)) in pages.iter().zip(&page_refs) {
        let mut writer = pdf.page(*page_ref);
        writer
            .media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
            .parent(tree_ref)
            .contents(*content_ref);
        let mut resources = writer.resources();
        let mut fonts = resources.fonts();
        for weight in Weight::ALL {
            fonts.pair(Name(weight.resource()), font_refs[weight as usize]);
        }
        fonts.finish();
        resources.finish();
        writer.finish();
        let content = deflate(&page_content(page, &subsets));
        pdf.stream(*content_ref, &content)
            .filter(Filter::FlateDecode);
    }
    for weight in Weight::ALL {
        write_font(
            &mut pdf,
            &mut refs,
            font_refs[weight as usize],
            weight,
            &subsets[weight as usize],
        );
    }

    let title = title(document, language);
    let author = document.seller.registered_name().to_owned();
    let at = document.produced_at;
    let metadata_ref = refs.next();
    let xmp = xmp(
        &title,
        &author,
        &at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        factur_x.is_some(),
    );
    pdf.metadata(metadata_ref, &xmp);

    let icc_ref = refs.next();
    let icc = icc::srgb();
    let icc_deflated = deflate(&icc);
    pdf.icc_profile(icc_ref, &icc_deflated)
        .n(3)
        .filter(Filter::FlateDecode);

    let attachment = factur_x.map(|xml| {
        let file_ref = refs.next();
        let spec_ref = refs.next();
        let deflated = deflate(xml);
        let mut file = pdf.embedded_file(file_ref, &deflated);
        file.subtype(Name(b"text/xml"))
            .params()
            .size(xml.len() as i32)
            .modification_date(pdf_date(at));
        file.filter(Filter::FlateDecode);
        file.finish();
        pdf.file_spec(spec_ref)
            .path(Str(FACTUR_X_FILE_NAME.as_bytes()))
            .unic_file(TextStr(FACTUR_X_FILE_NAME))
            .description(TextStr("Factur-X / ZUGFeRD e-invoice (EN 16931)"))
            .association_kind(AssociationKind::Alternative)
            .embedded_file(file_ref);
        spec_ref
    });

    let info_ref = refs.next();
    pdf.document_info(info_ref)
        .title(TextStr(&title))
        .author(TextStr(&author))
        .creator(TextStr("invoiced"))
        .producer(TextStr(&producer()))
        .creation_date(pdf_date(at))
        .modified_date(pdf_date(at));

    let mut catalog = pdf.catalog(catalog_ref);
    catalog
        .pages(tree_ref)
        .metadata(metadata_ref)
        .lang(TextStr(language.tag()));
    catalog.viewer_preferences().display_doc_title(true);
    catalog
        .output_intents()
        .push()
        .subtype(OutputIntentSubtype::PDFA)
        .output_condition_identifier(TextStr(icc::DESCRIPTION))
        .info(TextStr(icc::DESCRIPTION))
        .dest_output_profile(icc_ref);
    if let Some(spec_ref) = attachment {
        catalog
            .names()
            .embedded_files()
            .names()
            .insert(Str(FACTUR_X_FILE_NAME.as_bytes()), spec_ref);
        catalog.insert(Name(b"AF")).array().item(spec_ref);
    }
    catalog.finish();

    // The identifier: what the file says, hashed (the same document gives
    // the same identifier, another document another one).
    let mut id = Sha256::new();
    id.update(title.as_bytes());
    id.update(at.to_rfc3339().as_bytes());
    id.update(language.tag().as_bytes());
    for page in &pages {
        id.update(page_content(page, &subsets));
    }
    if let Some(xml) = factur_x {
        id.update(xml);
    }
    let id = id.finalize()[..16].to_vec();
    pdf.set_file_id((id.clone(), id));
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::samples;

    #[test]
    fn the_same_document_renders_to_the_same_bytes() {
        let document = samples::document(DocumentKind::Invoice, 40);
        let xml = crate::documents::cii::render(&document);
        let first = render(&document, Locale::De, Some(&xml));
        assert_eq!(first, render(&document, Locale::De, Some(&xml)));
        assert_ne!(first, render(&document, Locale::En, Some(&xml)));
        assert!(first.starts_with(b"%PDF-1.7\n%\x80\x80\x80\x80"));
    }

    #[test]
    fn every_character_of_both_languages_has_a_glyph() {
        for weight in Weight::ALL {
            let font = Font::get(weight);
            for c in "äöüÄÖÜß€£¥–—·„“”‘’©°§½ÉéèàçñøåŁłŚśŻżČčŠšŽž".chars()
            {
                assert_ne!(font.glyph(c), 0, "{c} in {weight:?}");
            }
        }
    }
}
