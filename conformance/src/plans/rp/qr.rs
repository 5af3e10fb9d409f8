//! Reading a QR code's modules from its SVG rendering, and its format information (ISO/IEC
//! 18004:2015 §7.9): the error correction level and mask the code declares. IT-Wallet 1.4
//! `test-plans-remote-presentation.rst` RPR-77 asks for level Q.
//!
//! The SVG is read as the dark rectangles it draws: `<path d="M x y h w v h H x V y …">`
//! segments (what the `qrcode` crate renders) and `<rect>` elements filled with a dark colour.
//! The module size is the smallest rectangle side; the grid starts at the top-left dark module.

/// The error correction levels, as the format information encodes them (§7.9.1 Table 12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EcLevel {
    /// About 7 %.
    L,
    /// About 15 %.
    M,
    /// About 25 %.
    Q,
    /// About 30 %.
    H,
}

impl EcLevel {
    fn bits(self) -> u16 {
        match self {
            Self::L => 1,
            Self::M => 0,
            Self::Q => 3,
            Self::H => 2,
        }
    }

    fn from_bits(b: u16) -> Self {
        match b & 3 {
            1 => Self::L,
            0 => Self::M,
            3 => Self::Q,
            _ => Self::H,
        }
    }
}

/// A QR code's modules: `size` × `size`, dark = `true`, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid {
    /// Modules per side.
    pub size: usize,
    dark: Vec<bool>,
}

impl Grid {
    /// Whether the module at `(col, row)` is dark (outside the grid: light).
    pub fn get(&self, col: usize, row: usize) -> bool {
        if col >= self.size || row >= self.size {
            return false;
        }
        self.dark.get(row * self.size + col).copied().unwrap_or(false)
    }

    /// Sets the module at `(col, row)`.
    pub fn set(&mut self, col: usize, row: usize, dark: bool) {
        if col < self.size
            && row < self.size
            && let Some(m) = self.dark.get_mut(row * self.size + col)
        {
            *m = dark;
        }
    }

    /// The modules of an SVG rendering.
    pub fn from_svg(svg: &str) -> Result<Self, String> {
        let rects = dark_rects(svg);
        let unit = rects.iter().flat_map(|r| [r.2, r.3]).filter(|v| *v > 0.0).fold(f64::INFINITY, f64::min);
        if rects.is_empty() || !unit.is_finite() {
            return Err("the SVG draws no dark modules".into());
        }
        let left = rects.iter().map(|r| r.0).fold(f64::INFINITY, f64::min);
        let top = rects.iter().map(|r| r.1).fold(f64::INFINITY, f64::min);
        let right = rects.iter().map(|r| r.0 + r.2).fold(f64::NEG_INFINITY, f64::max);
        let bottom = rects.iter().map(|r| r.1 + r.3).fold(f64::NEG_INFINITY, f64::max);
        let side = ((right - left).max(bottom - top) / unit).round();
        if !(21.0..=177.0).contains(&side) {
            return Err(format!("a grid of {side} modules is not a QR code (21 to 177)"));
        }
        // Bounded above: the cast keeps the value.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let size = side as usize;
        let mut grid = Self { size, dark: vec![false; size * size] };
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        for (x, y, w, h) in rects {
            let (c0, r0) = (((x - left) / unit).round() as usize, ((y - top) / unit).round() as usize);
            let (cw, rh) = ((w / unit).round() as usize, (h / unit).round() as usize);
            for row in r0..r0 + rh {
                for col in c0..c0 + cw {
                    grid.set(col, row, true);
                }
            }
        }
        Ok(grid)
    }

    /// The SVG of the grid (a quiet zone of four modules, 8 units each).
    pub fn to_svg(&self) -> String {
        let side = (self.size + 8) * 8;
        let mut d = String::new();
        for row in 0..self.size {
            for col in 0..self.size {
                if self.get(col, row) {
                    let (x, y) = ((col + 4) * 8, (row + 4) * 8);
                    d.push_str(&format!("M{x} {y}h8v8H{x}V{y}"));
                }
            }
        }
        format!(
            r##"<?xml version="1.0" standalone="yes"?><svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{side}" height="{side}" viewBox="0 0 {side} {side}" shape-rendering="crispEdges"><rect x="0" y="0" width="{side}" height="{side}" fill="#fff"/><path fill="#000" d="{d}"/></svg>"##
        )
    }

    /// The positions of the first copy of the format information, bit 0 first (§7.9.1,
    /// Figure 25: beside the top-left finder pattern).
    fn format_positions(&self) -> [(usize, usize); 15] {
        let mut p = [(0, 0); 15];
        for (i, slot) in p.iter_mut().enumerate() {
            *slot = match i {
                0..=5 => (8, i),
                6 => (8, 7),
                7 => (8, 8),
                8 => (7, 8),
                _ => (14 - i, 8),
            };
        }
        p
    }

    /// The positions of the second copy (beside the other two finder patterns).
    fn format_positions_2(&self) -> [(usize, usize); 15] {
        let n = self.size;
        let mut p = [(0, 0); 15];
        for (i, slot) in p.iter_mut().enumerate() {
            *slot = if i < 8 { (n - 1 - i, 8) } else { (8, n - 15 + i) };
        }
        p
    }

    /// The error correction level and mask the format information declares: the valid
    /// format word nearest to either copy (at most 3 bits off).
    pub fn format(&self) -> Result<(EcLevel, u8), String> {
        let read = |pos: [(usize, usize); 15]| pos.iter().enumerate().fold(0u16, |acc, (i, (c, r))| acc | (u16::from(self.get(*c, *r)) << i));
        let copies = [read(self.format_positions()), read(self.format_positions_2())];
        let mut best: Option<(u32, u16)> = None;
        for data in 0u16..32 {
            let word = format_word(data);
            for c in copies {
                let d = (word ^ c).count_ones();
                if best.is_none_or(|(bd, _)| d < bd) {
                    best = Some((d, data));
                }
            }
        }
        match best {
            Some((d, data)) if d <= 3 => Ok((EcLevel::from_bits(data >> 3), u8::try_from(data & 7).unwrap_or_default())),
            _ => Err(format!("no valid format information (read {:015b} and {:015b})", copies[0], copies[1])),
        }
    }

    /// Writes format information for `level` and `mask` in both copies.
    pub fn set_format(&mut self, level: EcLevel, mask: u8) {
        let word = format_word((level.bits() << 3) | u16::from(mask & 7));
        for pos in [self.format_positions(), self.format_positions_2()] {
            for (i, (c, r)) in pos.iter().enumerate() {
                self.set(*c, *r, (word >> i) & 1 == 1);
            }
        }
    }
}

/// The 15-bit format word of 5 data bits: BCH(15,5) with generator 0x537, masked with 0x5412
/// (§7.9.2, Annex C).
fn format_word(data: u16) -> u16 {
    let mut rem = data;
    for _ in 0..10 {
        rem = (rem << 1) ^ ((rem >> 9) * 0x537);
    }
    ((data << 10) | (rem & 0x3ff)) ^ 0x5412
}

/// The dark rectangles (x, y, width, height) an SVG draws.
fn dark_rects(svg: &str) -> Vec<(f64, f64, f64, f64)> {
    let mut out = Vec::new();
    // Paths filled dark: M x y h w v h H x V y segments.
    for part in svg.split("<path").skip(1) {
        let tag = part.split('>').next().unwrap_or_default();
        if !dark_fill(tag) {
            continue;
        }
        let Some(d) = attr(tag, "d") else { continue };
        for seg in d.split('M').skip(1) {
            let nums: Vec<f64> = seg.split(|c: char| c.is_ascii_alphabetic() || c == ' ' || c == ',').filter(|s| !s.is_empty()).filter_map(|s| s.parse().ok()).collect();
            if let [x, y, w, h, ..] = nums[..] {
                out.push((x, y, w, h));
            }
        }
    }
    for part in svg.split("<rect").skip(1) {
        let tag = part.split('>').next().unwrap_or_default();
        if !dark_fill(tag) {
            continue;
        }
        let num = |n: &str| attr(tag, n).and_then(|v| v.parse::<f64>().ok());
        if let (Some(x), Some(y), Some(w), Some(h)) = (num("x"), num("y"), num("width"), num("height")) {
            out.push((x, y, w, h));
        }
    }
    out
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let rest = tag.get(start..)?;
    rest.split('"').next()
}

/// A fill that reads as dark (black, or a colour with every channel below the middle).
fn dark_fill(tag: &str) -> bool {
    let fill = attr(tag, "fill").unwrap_or("#000").to_ascii_lowercase();
    match fill.as_str() {
        "black" | "#000" | "#000000" => true,
        f if f.len() == 7 && f.starts_with('#') => [1, 3, 5].iter().all(|i| f.get(*i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()).is_some_and(|v| v < 0x80)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn format_words_match_the_standard_table() {
        // ISO/IEC 18004 Annex C, Table C.1: level M mask 0 and level Q mask 0 (after masking).
        assert_eq!(format_word(0b00000), 0b101010000010010);
        assert_eq!(format_word(0b11000), 0b011010101011111);
    }

    #[test]
    fn a_grid_round_trips_through_svg_with_its_format() {
        let mut g = Grid { size: 21, dark: vec![false; 21 * 21] };
        g.set(0, 0, true);
        g.set(20, 20, true);
        g.set_format(EcLevel::Q, 5);
        let back = Grid::from_svg(&g.to_svg()).unwrap();
        assert_eq!(back.format().unwrap(), (EcLevel::Q, 5));
        assert_eq!(back, g);
    }
}
