//! The two fonts every document is set in: Liberation Sans Regular and
//! Bold (SIL Open Font License, `assets/fonts/`), compiled into the binary
//! so that a document renders the same bytes on every machine, whatever
//! fonts the machine has.
//!
//! Text is set glyph by glyph from the font's own character map and
//! advance widths: no shaping, no kerning, which Latin, Greek and Cyrillic
//! text (all this font covers) does without. A character the font lacks is
//! drawn as its missing-glyph box.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use ttf_parser::{Face, GlyphId};

/// Which of the two fonts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Weight {
    Regular,
    Bold,
}

impl Weight {
    pub const ALL: [Weight; 2] = [Weight::Regular, Weight::Bold];

    /// The font's resource name in a page's /Font dictionary.
    pub fn resource(self) -> &'static [u8] {
        match self {
            Weight::Regular => b"F1",
            Weight::Bold => b"F2",
        }
    }
}

/// A font program and what the layout needs to know of it.
pub struct Font {
    /// The PostScript name, for /BaseFont (after the subset tag).
    pub postscript_name: &'static str,
    pub data: &'static [u8],
    face: Face<'static>,
}

const REGULAR: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/fonts/LiberationSans-Regular.ttf"
));
const BOLD: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/fonts/LiberationSans-Bold.ttf"
));

impl Font {
    fn load(postscript_name: &'static str, data: &'static [u8]) -> Self {
        let face = Face::parse(data, 0).expect("the font compiled into the binary parses");
        Self {
            postscript_name,
            data,
            face,
        }
    }

    pub fn get(weight: Weight) -> &'static Font {
        static FONTS: OnceLock<[Font; 2]> = OnceLock::new();
        let fonts = FONTS.get_or_init(|| {
            [
                Font::load("LiberationSans", REGULAR),
                Font::load("LiberationSans-Bold", BOLD),
            ]
        });
        match weight {
            Weight::Regular => &fonts[0],
            Weight::Bold => &fonts[1],
        }
    }

    /// The glyph that draws `c` (0, the missing glyph, when there is none).
    pub fn glyph(&self, c: char) -> u16 {
        self.face.glyph_index(c).map_or(0, |g| g.0)
    }

    fn to_thousandths(&self, units: f32) -> f32 {
        units * 1000.0 / f32::from(self.face.units_per_em())
    }

    /// A glyph's advance in thousandths of the font size (PDF glyph space).
    pub fn advance(&self, glyph: u16) -> f32 {
        let units = self.face.glyph_hor_advance(GlyphId(glyph)).unwrap_or(0);
        self.to_thousandths(f32::from(units))
    }

    /// How wide `text` is at `size` points.
    pub fn width(&self, text: &str, size: f32) -> f32 {
        text.chars()
            .map(|c| self.advance(self.glyph(c)))
            .sum::<f32>()
            * size
            / 1000.0
    }

    pub fn ascent(&self) -> f32 {
        self.to_thousandths(f32::from(self.face.ascender()))
    }

    pub fn descent(&self) -> f32 {
        self.to_thousandths(f32::from(self.face.descender()))
    }

    pub fn cap_height(&self) -> f32 {
        self.to_thousandths(f32::from(
            self.face.capital_height().unwrap_or(self.face.ascender()),
        ))
    }

    pub fn italic_angle(&self) -> f32 {
        self.face.italic_angle()
    }

    /// The bounding box of all glyphs, in thousandths.
    pub fn bbox(&self) -> [f32; 4] {
        let b = self.face.global_bounding_box();
        [
            self.to_thousandths(f32::from(b.x_min)),
            self.to_thousandths(f32::from(b.y_min)),
            self.to_thousandths(f32::from(b.x_max)),
            self.to_thousandths(f32::from(b.y_max)),
        ]
    }
}

/// The glyphs a document uses of one font, each with a character it stands
/// for (for the PDF's ToUnicode map, which text extraction reads), and the
/// font cut down to them.
pub struct Subset {
    /// Old glyph id → (new glyph id, the character it draws).
    glyphs: BTreeMap<u16, (u16, Option<char>)>,
    /// The subset font program.
    pub program: Vec<u8>,
    /// Six letters naming this subset (`ABCDEF+LiberationSans`), derived
    /// from the glyphs it holds, so the same glyphs give the same name.
    pub tag: String,
}

impl Subset {
    /// Cuts `font` down to the glyphs of `characters`.
    pub fn new(font: &Font, characters: impl IntoIterator<Item = char>) -> Self {
        let mut by_glyph: BTreeMap<u16, Option<char>> = BTreeMap::new();
        by_glyph.insert(0, None);
        for c in characters {
            let glyph = font.glyph(c);
            if glyph != 0 {
                by_glyph.entry(glyph).or_insert(Some(c));
            }
        }
        let mut remapper = subsetter::GlyphRemapper::new();
        for glyph in by_glyph.keys() {
            remapper.remap(*glyph);
        }
        let program = subsetter::subset(font.data, 0, &remapper)
            .expect("the font compiled into the binary can be subset");
        let glyphs = by_glyph
            .into_iter()
            .map(|(old, c)| (old, (remapper.get(old).unwrap_or(0), c)))
            .collect::<BTreeMap<_, _>>();
        let mut hash: u32 = 2_166_136_261;
        for old in glyphs.keys() {
            for byte in old.to_be_bytes() {
                hash = (hash ^ u32::from(byte)).wrapping_mul(16_777_619);
            }
        }
        let tag = (0..6)
            .map(|i| char::from(b'A' + ((hash >> (i * 5)) % 26) as u8))
            .collect();
        Self {
            glyphs,
            program,
            tag,
        }
    }

    /// The glyph id in the subset (the CID in the PDF) that draws `c`.
    pub fn cid(&self, font: &Font, c: char) -> u16 {
        self.glyphs.get(&font.glyph(c)).map_or(0, |(new, _)| *new)
    }

    /// (CID, advance in thousandths, the character it draws), by CID.
    pub fn cids(&self, font: &Font) -> Vec<(u16, f32, Option<char>)> {
        let mut cids: Vec<(u16, f32, Option<char>)> = self
            .glyphs
            .iter()
            .map(|(old, (new, c))| (*new, font.advance(*old), *c))
            .collect();
        cids.sort_by_key(|(cid, _, _)| *cid);
        cids
    }
}
