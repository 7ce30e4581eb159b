//! Conversion of 8-bit RGB pixels described by a matrix/TRC ICC profile
//! (iPhone photos carry Display P3) to sRGB, the space a JPEG without a
//! profile is read in.
//!
//! The HEIC decoder converts colour too, but only inside its whole-image
//! decode; a HEIC decoded tile by tile in several workers needs the same
//! conversion applied to the assembled picture, and the whole-image path
//! applies this one as well, so both give the same pixels. It is checked
//! against the decoder's own conversion on real photos
//! (`tests/it/pipeline_photos.rs`).
//!
//! The transform is relative colorimetric: each channel is linearised
//! through its tone curve, the profile's colourant matrix takes it to XYZ,
//! a Bradford adaptation moves the profile's white (the sum of its
//! colourants) to D65, and the standard XYZ → linear sRGB matrix and sRGB
//! curve finish it. Colours outside sRGB are clipped per channel.

/// A 3×3 matrix, row-major.
type Matrix = [[f64; 3]; 3];

/// XYZ (D65) to linear sRGB (IEC 61966-2-1).
const XYZ_TO_SRGB: Matrix = [
    [3.240_454_2, -1.537_138_5, -0.498_531_4],
    [-0.969_266_0, 1.876_010_8, 0.041_556_0],
    [0.055_643_4, -0.204_025_9, 1.057_225_2],
];
/// The D65 white point in XYZ.
const D65: [f64; 3] = [0.950_47, 1.0, 1.088_83];
/// Bradford cone response matrix.
const BRADFORD: Matrix = [[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]];

/// Entries of the linear-light → sRGB table: fine enough that a step is far
/// below one 8-bit code, even near black where the curve is steepest.
const ENCODE_STEPS: usize = 1 << 16;

/// A matrix/TRC profile's transform to sRGB, ready to apply to pixels.
pub struct ToSrgb {
    /// Per channel, each 8-bit code in linear light.
    linear: [[f32; 256]; 3],
    /// Linear profile RGB to linear sRGB.
    matrix: [[f32; 3]; 3],
    /// Linear sRGB in `0..=1`, in [`ENCODE_STEPS`] steps, to an 8-bit code.
    encode: Vec<u8>,
}

impl ToSrgb {
    /// Reads an RGB matrix/TRC profile. `None` for anything else: another
    /// colour space, a LUT-based profile (which the whole-image decoder
    /// converts its own way), or a malformed one.
    pub fn from_icc(icc: &[u8]) -> Option<Self> {
        let profile = Profile::parse(icc)?;
        if profile.tag(b"A2B0").is_some() || profile.tag(b"A2B1").is_some() {
            return None;
        }
        let column = |sig: &[u8; 4]| profile.tag(sig).and_then(xyz);
        let (r, g, b) = (column(b"rXYZ")?, column(b"gXYZ")?, column(b"bXYZ")?);
        let to_xyz: Matrix = std::array::from_fn(|row| [r[row], g[row], b[row]]);
        let white = apply(&to_xyz, [1.0, 1.0, 1.0]);
        if white.iter().any(|c| !c.is_finite() || *c <= 0.0) {
            return None;
        }
        let matrix = multiply(&XYZ_TO_SRGB, &multiply(&bradford(white, D65)?, &to_xyz));
        let curve = |sig: &[u8; 4]| profile.tag(sig).and_then(Curve::parse);
        let curves = [curve(b"rTRC")?, curve(b"gTRC")?, curve(b"bTRC")?];
        let linear =
            std::array::from_fn(|c| std::array::from_fn(|code| curves[c].eval(code as f64 / 255.0) as f32));
        let encode = (0..ENCODE_STEPS).map(|i| srgb_code(i as f64 / (ENCODE_STEPS - 1) as f64)).collect();
        Some(Self { linear, matrix: matrix.map(|row| row.map(|v| v as f32)), encode })
    }

    fn pixel(&self, linear: [f32; 3]) -> [u8; 3] {
        let top = (ENCODE_STEPS - 1) as f32;
        let m = &self.matrix;
        [0, 1, 2].map(|row| {
            let v = m[row][0] * linear[0] + m[row][1] * linear[1] + m[row][2] * linear[2];
            self.encode[(v.clamp(0.0, 1.0) * top + 0.5) as usize]
        })
    }

    /// Converts RGBA pixels in place; alpha is left alone.
    pub fn apply(&self, rgba: &mut [u8]) {
        for px in rgba.chunks_exact_mut(4) {
            let linear = [
                self.linear[0][px[0] as usize],
                self.linear[1][px[1] as usize],
                self.linear[2][px[2] as usize],
            ];
            let [r, g, b] = self.pixel(linear);
            px[0] = r;
            px[1] = g;
            px[2] = b;
        }
    }
}

/// The sRGB 8-bit code of a linear-light value in `0..=1`.
fn srgb_code(linear: f64) -> u8 {
    let v = if linear <= 0.003_130_8 { 12.92 * linear } else { 1.055 * linear.powf(1.0 / 2.4) - 0.055 };
    (v * 255.0).round().clamp(0.0, 255.0) as u8
}

fn multiply(a: &Matrix, b: &Matrix) -> Matrix {
    std::array::from_fn(|i| std::array::from_fn(|j| (0..3).map(|k| a[i][k] * b[k][j]).sum()))
}

fn apply(m: &Matrix, v: [f64; 3]) -> [f64; 3] {
    std::array::from_fn(|i| m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2])
}

fn invert(m: &Matrix) -> Option<Matrix> {
    let cofactor = |i: usize, j: usize| {
        let (r0, r1) = ((i + 1) % 3, (i + 2) % 3);
        let (c0, c1) = ((j + 1) % 3, (j + 2) % 3);
        m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]
    };
    let det = (0..3).map(|j| m[0][j] * cofactor(0, j)).sum::<f64>();
    if det.abs() < 1e-12 || !det.is_finite() {
        return None;
    }
    // The inverse is the transposed cofactor matrix over the determinant.
    Some(std::array::from_fn(|i| std::array::from_fn(|j| cofactor(j, i) / det)))
}

/// Chromatic adaptation from white `from` to white `to` (both XYZ).
fn bradford(from: [f64; 3], to: [f64; 3]) -> Option<Matrix> {
    let (src, dst) = (apply(&BRADFORD, from), apply(&BRADFORD, to));
    let scale: Matrix =
        std::array::from_fn(|i| std::array::from_fn(|j| if i == j { dst[i] / src[i] } else { 0.0 }));
    Some(multiply(&invert(&BRADFORD)?, &multiply(&scale, &BRADFORD)))
}

/// An ICC profile's header and tag table.
struct Profile<'a> {
    data: &'a [u8],
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(data.get(at..at.checked_add(2)?)?.try_into().ok()?))
}

/// An `s15Fixed16Number`.
fn fixed(data: &[u8], at: usize) -> Option<f64> {
    Some(f64::from(be32(data, at)? as i32) / 65536.0)
}

impl<'a> Profile<'a> {
    /// An RGB device profile connected through XYZ.
    fn parse(data: &'a [u8]) -> Option<Self> {
        let ok = data.len() >= 132
            && data.get(36..40) == Some(b"acsp")
            && data.get(16..20) == Some(b"RGB ")
            && data.get(20..24) == Some(b"XYZ ");
        ok.then_some(Self { data })
    }

    /// A tag's bytes, from its type signature on.
    fn tag(&self, signature: &[u8; 4]) -> Option<&'a [u8]> {
        let count = be32(self.data, 128)? as usize;
        (0..count.min(1024)).find_map(|i| {
            let entry = 132 + 12 * i;
            if self.data.get(entry..entry + 4)? != signature {
                return None;
            }
            let offset = be32(self.data, entry + 4)? as usize;
            let size = be32(self.data, entry + 8)? as usize;
            self.data.get(offset..offset.checked_add(size)?)
        })
    }
}

/// An `XYZType` tag's first value.
fn xyz(tag: &[u8]) -> Option<[f64; 3]> {
    if tag.get(..4)? != b"XYZ " {
        return None;
    }
    Some([fixed(tag, 8)?, fixed(tag, 12)?, fixed(tag, 16)?])
}

/// A tone curve: device value in `0..=1` to linear light.
enum Curve {
    Gamma(f64),
    Table(Vec<f64>),
    /// `parametricCurveType`: g, a, b, c, d, e, f (unused ones at their
    /// neutral values).
    Parametric([f64; 7]),
}

impl Curve {
    fn parse(tag: &[u8]) -> Option<Self> {
        match tag.get(..4)? {
            b"curv" => {
                let n = be32(tag, 8)? as usize;
                match n {
                    0 => Some(Self::Gamma(1.0)),
                    1 => Some(Self::Gamma(f64::from(be16(tag, 12)?) / 256.0)),
                    _ if n <= 1 << 16 => {
                        let table = (0..n)
                            .map(|i| be16(tag, 12 + 2 * i).map(|v| f64::from(v) / 65535.0))
                            .collect::<Option<Vec<_>>>()?;
                        Some(Self::Table(table))
                    }
                    _ => None,
                }
            }
            b"para" => {
                let kind = be16(tag, 8)?;
                let count = [1, 3, 4, 5, 7].get(usize::from(kind)).copied()?;
                let mut p = [1.0, 1.0, 0.0, 0.0, f64::NEG_INFINITY, 0.0, 0.0];
                let values = (0..count).map(|i| fixed(tag, 12 + 4 * i)).collect::<Option<Vec<_>>>()?;
                match kind {
                    // Y = X^g
                    0 => p[0] = values[0],
                    // Y = (aX + b)^g for X >= -b/a, else 0 (kind 1); kind 2
                    // adds c to both sides.
                    1 | 2 => {
                        p[..3].copy_from_slice(&values[..3]);
                        if values[1] == 0.0 {
                            return None;
                        }
                        p[4] = -values[2] / values[1];
                        if kind == 2 {
                            p[5] = values[3];
                            p[6] = values[3];
                        }
                    }
                    // Y = (aX + b)^g for X >= d, else cX (+ f below, + e above for type 4)
                    3 | 4 => {
                        p[..3].copy_from_slice(&values[..3]);
                        p[3] = values[3];
                        p[4] = values[4];
                        if kind == 4 {
                            p[5] = values[5];
                            p[6] = values[6];
                        }
                    }
                    _ => return None,
                }
                Some(Self::Parametric(p))
            }
            _ => None,
        }
    }

    fn eval(&self, x: f64) -> f64 {
        let y = match self {
            Self::Gamma(g) => x.powf(*g),
            Self::Table(table) => {
                let at = x * (table.len() - 1) as f64;
                let i = (at.floor() as usize).min(table.len() - 2);
                let t = at - i as f64;
                table[i] + (table[i + 1] - table[i]) * t
            }
            // Every kind in the form of kind 4: (aX + b)^g + e from d up,
            // cX + f below it.
            Self::Parametric([g, a, b, c, d, e, f]) => {
                if x >= *d {
                    (a * x + b).max(0.0).powf(*g) + e
                } else {
                    c * x + f
                }
            }
        };
        y.clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal matrix/TRC profile from its colourants and one curve tag.
    fn profile(columns: [[f64; 3]; 3], curve: &[u8]) -> Vec<u8> {
        let mut tags: Vec<([u8; 4], Vec<u8>)> = Vec::new();
        for (sig, xyz) in [(b"rXYZ", columns[0]), (b"gXYZ", columns[1]), (b"bXYZ", columns[2])] {
            let mut t = b"XYZ \0\0\0\0".to_vec();
            for v in xyz {
                t.extend_from_slice(&((v * 65536.0).round() as i32).to_be_bytes());
            }
            tags.push((*sig, t));
        }
        for sig in [b"rTRC", b"gTRC", b"bTRC"] {
            tags.push((*sig, curve.to_vec()));
        }
        let mut data = vec![0u8; 128];
        data[16..20].copy_from_slice(b"RGB ");
        data[20..24].copy_from_slice(b"XYZ ");
        data[36..40].copy_from_slice(b"acsp");
        data.extend_from_slice(&(tags.len() as u32).to_be_bytes());
        let mut offset = 132 + 12 * tags.len();
        let mut body = Vec::new();
        for (sig, t) in &tags {
            data.extend_from_slice(sig);
            data.extend_from_slice(&(offset as u32).to_be_bytes());
            data.extend_from_slice(&(t.len() as u32).to_be_bytes());
            offset += t.len();
            body.extend_from_slice(t);
        }
        data.extend_from_slice(&body);
        data
    }

    /// The sRGB curve as a type 3 parametric curve.
    fn srgb_curve() -> Vec<u8> {
        let mut t = b"para\0\0\0\0\0\x03\0\0".to_vec();
        for v in [2.4, 1.0 / 1.055, 0.055 / 1.055, 1.0 / 12.92, 0.04045] {
            t.extend_from_slice(&((v * 65536.0f64).round() as i32).to_be_bytes());
        }
        t
    }

    /// sRGB's colourants, adapted to D50 (as an ICC v4 sRGB profile has them).
    const SRGB_D50: [[f64; 3]; 3] =
        [[0.436_06, 0.222_49, 0.013_92], [0.385_15, 0.716_87, 0.097_08], [0.143_07, 0.060_62, 0.714_11]];
    /// Display P3's colourants, adapted to D50.
    const P3_D50: [[f64; 3]; 3] =
        [[0.515_12, 0.241_19, -0.001_05], [0.291_98, 0.692_25, 0.041_88], [0.157_09, 0.066_56, 0.784_11]];

    #[test]
    fn an_srgb_profile_changes_nothing() {
        let to_srgb = ToSrgb::from_icc(&profile(SRGB_D50, &srgb_curve())).expect("an sRGB profile parses");
        let mut worst = 0;
        for code in 0..=255u8 {
            let mut px = [code, 255 - code, code / 2, 7];
            to_srgb.apply(&mut px);
            worst =
                worst.max(px[0].abs_diff(code)).max(px[1].abs_diff(255 - code)).max(px[2].abs_diff(code / 2));
            assert_eq!(px[3], 7, "alpha is left alone");
        }
        assert!(worst <= 1, "an sRGB profile moved a code by {worst}");
    }

    #[test]
    fn display_p3_saturated_colours_clip_and_grey_stays_grey() {
        let to_srgb = ToSrgb::from_icc(&profile(P3_D50, &srgb_curve())).expect("a P3 profile parses");
        // P3's pure red is outside sRGB: red clips at full, green and blue at 0.
        let mut red = [255, 0, 0, 255];
        to_srgb.apply(&mut red);
        assert_eq!(red, [255, 0, 0, 255]);
        // Greys share the white and the curve: they stay grey.
        for code in [0u8, 1, 17, 128, 254, 255] {
            let mut grey = [code; 4];
            to_srgb.apply(&mut grey);
            assert!(grey[..3].iter().all(|c| c.abs_diff(code) <= 1), "grey {code} became {grey:?}");
        }
        // sRGB's own red, written in Display P3 (0.9175, 0.2003, 0.1386),
        // comes back as sRGB red.
        let mut red = [234, 51, 35, 255];
        to_srgb.apply(&mut red);
        assert!(red[0] >= 252 && red[1] <= 4 && red[2] <= 4, "sRGB red in P3 gave {red:?}");
        // P3's green is beyond sRGB's: red and blue clip at 0.
        let mut green = [0, 200, 0, 255];
        to_srgb.apply(&mut green);
        assert!(green[0] == 0 && green[1] > 200 && green[2] == 0, "P3 green gave {green:?}");
    }

    #[test]
    fn gamma_and_table_curves_linearise() {
        let gamma = Curve::parse(b"curv\0\0\0\0\0\0\0\x01\x02\x33").expect("a gamma curve");
        assert!((gamma.eval(0.5) - 0.5f64.powf(2.2)).abs() < 1e-3);
        let table = Curve::parse(b"curv\0\0\0\0\0\0\0\x03\0\0\x40\0\xff\xff").expect("a table curve");
        assert!((table.eval(0.25) - 0.125).abs() < 1e-3);
        assert_eq!(table.eval(1.0), 1.0);
    }

    #[test]
    fn foreign_or_damaged_profiles_are_refused() {
        assert!(ToSrgb::from_icc(b"").is_none());
        let mut cmyk = profile(P3_D50, &srgb_curve());
        cmyk[16..20].copy_from_slice(b"CMYK");
        assert!(ToSrgb::from_icc(&cmyk).is_none());
        let mut lab = profile(P3_D50, &srgb_curve());
        lab[20..24].copy_from_slice(b"Lab ");
        assert!(ToSrgb::from_icc(&lab).is_none());
        let truncated = profile(P3_D50, &srgb_curve());
        assert!(ToSrgb::from_icc(&truncated[..truncated.len() - 10]).is_none());
        // A tag table that claims far more tags than the profile holds.
        let mut huge = profile(P3_D50, &srgb_curve());
        huge[128..132].copy_from_slice(&u32::MAX.to_be_bytes());
        let _ = ToSrgb::from_icc(&huge);
    }
}
