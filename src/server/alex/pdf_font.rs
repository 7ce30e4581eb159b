//! The caption font of scan-mode PDFs: DejaVu Sans, embedded, so Māori
//! names and places keep their macrons (Latin Extended-A and beyond) in the
//! patient's record. Helvetica's standard encoding had only ASCII.
//!
//! A simple TrueType font: ASCII codes as themselves, and each other
//! character a caption uses given a code from 128 up (per document), named
//! `uniXXXX` in the encoding's `Differences`, with a `ToUnicode` map so text
//! extraction and search give back exactly the caption.

use std::collections::BTreeMap;

use lopdf::{dictionary, Dictionary, Document, Object, ObjectId, Stream};

/// The font file (DejaVu Sans 2.37, from the `dejavu` crate: free licence).
fn font_file() -> &'static [u8] {
    dejavu::sans::regular()
}

/// Maps a document's caption characters to one-byte codes.
pub struct Encoder {
    extra: BTreeMap<char, u8>,
}

impl Encoder {
    /// Codes for every character of `lines` (up to 128 beyond ASCII; more
    /// distinct ones than that become `?`).
    pub fn new<'a>(lines: impl IntoIterator<Item = &'a String>) -> Self {
        let mut extra = BTreeMap::new();
        let mut next: u16 = 128;
        for c in lines.into_iter().flat_map(|l| l.chars()) {
            if !is_ascii_printable(c) && !extra.contains_key(&c) && next <= 255 && !c.is_control() {
                extra.insert(c, next as u8);
                next += 1;
            }
        }
        Self { extra }
    }

    /// The bytes of a string in this document's encoding.
    pub fn encode(&self, s: &str) -> Vec<u8> {
        s.chars()
            .map(
                |c| if is_ascii_printable(c) { c as u8 } else { self.extra.get(&c).copied().unwrap_or(b'?') },
            )
            .collect()
    }

    fn char_of(&self, code: u8) -> Option<char> {
        if (32..127).contains(&code) {
            return Some(code as char);
        }
        self.extra.iter().find(|(_, c)| **c == code).map(|(ch, _)| *ch)
    }

    /// Adds the font (with its descriptor, file and ToUnicode map) to `doc`.
    pub fn add_font(&self, doc: &mut Document) -> Result<ObjectId, String> {
        let face = ttf_parser::Face::parse(font_file(), 0).map_err(|e| e.to_string())?;
        let scale = 1000.0 / f32::from(face.units_per_em());
        let em = |v: i16| Object::Integer((f32::from(v) * scale).round() as i64);
        let last: u8 = self.extra.values().copied().max().unwrap_or(126);
        let widths: Vec<Object> = (32..=last)
            .map(|code| {
                let advance = self
                    .char_of(code)
                    .and_then(|c| face.glyph_index(c))
                    .and_then(|g| face.glyph_hor_advance(g))
                    .unwrap_or(0);
                Object::Integer((f32::from(advance) * scale).round() as i64)
            })
            .collect();
        let mut file =
            Stream::new(dictionary! { "Length1" => font_file().len() as i64 }, font_file().to_vec());
        file.compress().map_err(|e| e.to_string())?;
        let file_id = doc.add_object(file);
        let bbox = face.global_bounding_box();
        let descriptor_id = doc.add_object(dictionary! {
            "Type" => "FontDescriptor", "FontName" => "DejaVuSans", "Flags" => 32,
            "FontBBox" => vec![em(bbox.x_min), em(bbox.y_min), em(bbox.x_max), em(bbox.y_max)],
            "ItalicAngle" => 0, "Ascent" => em(face.ascender()), "Descent" => em(face.descender()),
            "CapHeight" => em(face.capital_height().unwrap_or(face.ascender())), "StemV" => 80,
            "FontFile2" => file_id,
        });
        let mut differences = vec![Object::Integer(128)];
        for (c, _) in self.extra.iter() {
            differences.push(Object::Name(format!("uni{:04X}", u32::from(*c)).into_bytes()));
        }
        let encoding = dictionary! {
            "Type" => "Encoding", "BaseEncoding" => "WinAnsiEncoding", "Differences" => differences,
        };
        let mut to_unicode = Stream::new(Dictionary::new(), self.cmap(last).into_bytes());
        to_unicode.compress().map_err(|e| e.to_string())?;
        let to_unicode_id = doc.add_object(to_unicode);
        Ok(doc.add_object(dictionary! {
            "Type" => "Font", "Subtype" => "TrueType", "BaseFont" => "DejaVuSans",
            "FirstChar" => 32, "LastChar" => i64::from(last), "Widths" => widths,
            "FontDescriptor" => descriptor_id, "Encoding" => encoding, "ToUnicode" => to_unicode_id,
        }))
    }

    /// A ToUnicode CMap for codes 32 to `last`.
    fn cmap(&self, last: u8) -> String {
        let entries: Vec<String> = (32..=last)
            .filter_map(|code| {
                let c = self.char_of(code)?;
                let utf16: String = c.encode_utf16(&mut [0; 2]).iter().map(|u| format!("{u:04X}")).collect();
                Some(format!("<{code:02X}> <{utf16}>"))
            })
            .collect();
        let mut out = String::from(
            "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
             /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
             /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
             1 begincodespacerange\n<00> <FF>\nendcodespacerange\n",
        );
        for chunk in entries.chunks(100) {
            out.push_str(&format!("{} beginbfchar\n{}\nendbfchar\n", chunk.len(), chunk.join("\n")));
        }
        out.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
        out
    }
}

/// Each character's advance at `size` points, as the embedded font sets it
/// (a character the font lacks is measured as a wide one, never as nothing).
pub struct Metrics {
    face: ttf_parser::Face<'static>,
    scale: f32,
}

impl Metrics {
    pub fn new(size: f32) -> Result<Self, String> {
        let face = ttf_parser::Face::parse(font_file(), 0).map_err(|e| e.to_string())?;
        let scale = size / f32::from(face.units_per_em());
        Ok(Self { face, scale })
    }

    /// The width of `s` in points.
    pub fn width(&self, s: &str) -> f32 {
        s.chars()
            .map(|c| {
                let advance = self.face.glyph_index(c).and_then(|g| self.face.glyph_hor_advance(g));
                f32::from(advance.unwrap_or(self.face.units_per_em())) * self.scale
            })
            .sum()
    }
}

fn is_ascii_printable(c: char) -> bool {
    (' '..='~').contains(&c)
}

/// ASCII for places that allow nothing else (TIFF's `ImageDescription`):
/// macrons and other accents dropped from their letters, not the letters lost.
pub fn ascii_fold(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'ā' | 'à' | 'á' | 'â' | 'ä' => 'a',
            'ē' | 'è' | 'é' | 'ê' | 'ë' => 'e',
            'ī' | 'ì' | 'í' | 'î' | 'ï' => 'i',
            'ō' | 'ò' | 'ó' | 'ô' | 'ö' => 'o',
            'ū' | 'ù' | 'ú' | 'û' | 'ü' => 'u',
            'Ā' | 'À' | 'Á' | 'Â' | 'Ä' => 'A',
            'Ē' | 'È' | 'É' | 'Ê' | 'Ë' => 'E',
            'Ī' | 'Ì' | 'Í' | 'Î' | 'Ï' => 'I',
            'Ō' | 'Ò' | 'Ó' | 'Ô' | 'Ö' => 'O',
            'Ū' | 'Ù' | 'Ú' | 'Û' | 'Ü' => 'U',
            '·' | '–' | '—' => '-',
            c if is_ascii_printable(c) => c,
            _ => '?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_character_gets_one_code_and_round_trips() {
        let lines = vec!["Tūhoe Ngāti Māori, ōrite".to_owned(), "Āwhina".to_owned()];
        let enc = Encoder::new(&lines);
        let bytes = enc.encode(&lines[0]);
        assert_eq!(bytes.len(), lines[0].chars().count());
        let back: String = bytes.iter().map(|b| enc.char_of(*b).unwrap()).collect();
        assert_eq!(back, lines[0]);
        assert!(enc.cmap(enc.extra.values().copied().max().unwrap()).contains("<0101>"), "ā");
        assert_eq!(ascii_fold("Tūhoe Ngāti Māori"), "Tuhoe Ngati Maori");
    }
}
