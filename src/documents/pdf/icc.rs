//! The sRGB ICC profile of the PDF/A output intent, written here rather
//! than shipped as a file: an ICC v2 display profile with the sRGB
//! primaries (Bradford-adapted to D50, as the PCS wants) and the sRGB tone
//! curve sampled at 256 points. The pages only use grays and one dark blue;
//! PDF/A needs the profile to say what those device colours mean.

/// The output condition the profile describes.
pub const DESCRIPTION: &str = "sRGB IEC61966-2.1";

fn s15_fixed16(value: f64) -> [u8; 4] {
    ((value * 65536.0).round() as i32).to_be_bytes()
}

fn xyz(x: f64, y: f64, z: f64) -> Vec<u8> {
    let mut tag = b"XYZ \0\0\0\0".to_vec();
    for v in [x, y, z] {
        tag.extend(s15_fixed16(v));
    }
    tag
}

fn text_description(text: &str) -> Vec<u8> {
    let mut tag = b"desc\0\0\0\0".to_vec();
    tag.extend(((text.len() + 1) as u32).to_be_bytes());
    tag.extend(text.as_bytes());
    tag.push(0);
    // No Unicode or ScriptCode description: their counts are 0, the
    // ScriptCode field keeps its fixed 67 bytes.
    tag.extend([0u8; 4 + 4 + 2 + 1 + 67]);
    tag
}

fn text(text: &str) -> Vec<u8> {
    let mut tag = b"text\0\0\0\0".to_vec();
    tag.extend(text.as_bytes());
    tag.push(0);
    tag
}

fn srgb_curve() -> Vec<u8> {
    let mut tag = b"curv\0\0\0\0".to_vec();
    tag.extend(256u32.to_be_bytes());
    for i in 0..256 {
        let x = f64::from(i) / 255.0;
        let linear = if x <= 0.04045 {
            x / 12.92
        } else {
            ((x + 0.055) / 1.055).powf(2.4)
        };
        tag.extend(((linear * 65535.0).round() as u16).to_be_bytes());
    }
    tag
}

/// The profile's bytes.
pub fn srgb() -> Vec<u8> {
    let curve = srgb_curve();
    // (signature, data); the three tone curves share one data block.
    let tags: Vec<(&[u8; 4], Vec<u8>)> = vec![
        (b"desc", text_description(DESCRIPTION)),
        (b"cprt", text("No copyright, use freely")),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.436_074_7, 0.222_504_5, 0.013_932_2)),
        (b"gXYZ", xyz(0.385_064_9, 0.716_878_6, 0.097_104_5)),
        (b"bXYZ", xyz(0.143_080_4, 0.060_616_9, 0.714_173_3)),
        (b"rTRC", curve),
    ];
    let shared: [&[u8; 4]; 2] = [b"gTRC", b"bTRC"];
    let table_len = 4 + 12 * (tags.len() + shared.len());
    let mut data = Vec::new();
    let mut entries = Vec::new();
    let mut offset = 128 + table_len;
    let mut curve_entry = (0, 0);
    for (signature, bytes) in &tags {
        entries.push((**signature, offset, bytes.len()));
        if *signature == b"rTRC" {
            curve_entry = (offset, bytes.len());
        }
        data.extend(bytes);
        let padding = (4 - bytes.len() % 4) % 4;
        data.extend(std::iter::repeat_n(0u8, padding));
        offset += bytes.len() + padding;
    }
    for signature in shared {
        entries.push((*signature, curve_entry.0, curve_entry.1));
    }
    let size = 128 + table_len + data.len();

    let mut profile = Vec::with_capacity(size);
    profile.extend((size as u32).to_be_bytes());
    profile.extend([0u8; 4]); // preferred CMM
    profile.extend([2, 0x10, 0, 0]); // version 2.1
    profile.extend(b"mntrRGB XYZ ");
    profile.extend([0x07, 0xEA, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0]); // 2026-01-01 00:00:00
    profile.extend(b"acsp");
    profile.extend([0u8; 4 + 4 + 4 + 4 + 8]); // platform, flags, manufacturer, model, attributes
    profile.extend([0u8; 4]); // perceptual intent
    for v in [0.9642, 1.0, 0.8249] {
        profile.extend(s15_fixed16(v)); // the PCS illuminant, D50
    }
    profile.extend([0u8; 4]); // creator
    profile.extend([0u8; 16 + 28]); // profile id (v4 only), reserved
    debug_assert_eq!(profile.len(), 128);
    profile.extend((entries.len() as u32).to_be_bytes());
    for (signature, offset, length) in entries {
        profile.extend(signature);
        profile.extend((offset as u32).to_be_bytes());
        profile.extend((length as u32).to_be_bytes());
    }
    profile.extend(data);
    debug_assert_eq!(profile.len(), size);
    profile
}
