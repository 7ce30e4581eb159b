//! Edits without a drag (WCAG 2.5.7, 2.1.1): a mark placed by one click or
//! by Enter, then moved or resized in steps by arrow keys or buttons, and a
//! crop moved, resized or typed in. Pure geometry on `model::edit`'s
//! oriented coordinates; the editor (`pages::desktop::editor`) wires it up.

use super::edit::{crop_rect, Point, Shape};

/// A crop: `(x, y, w, h)` in oriented coordinates.
pub type Crop = (f64, f64, f64, f64);

/// The smallest crop a step can make, in image pixels.
const MIN_CROP: f64 = 8.0;

/// What the editor draws with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    Crop,
    Arrow,
    Rect,
    Ellipse,
    Text,
}

/// What a step does to the crop or the chosen mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nudge {
    Move,
    Resize,
}

impl Tool {
    /// The mark a drag from `a` to `b` draws; `None` for the crop tool.
    pub fn drawn(self, a: Point, b: Point, label: &str) -> Option<Shape> {
        match self {
            Tool::Crop => None,
            Tool::Arrow => Some(Shape::Arrow(a, b)),
            Tool::Rect => Some(Shape::Rect(a, b)),
            Tool::Ellipse => Some(Shape::Ellipse(a, b)),
            Tool::Text => (!label.trim().is_empty()).then(|| Shape::Text(b, label.to_owned())),
        }
    }

    /// The mark a single click (or Enter) places at `at` in a `w`×`h`
    /// picture: an arrow pointing at it from the upper left, a box or ring
    /// around it, a label starting there; a sixth of the shorter side.
    pub fn placed(self, at: Point, (w, h): (f64, f64), label: &str) -> Option<Shape> {
        let r = w.min(h) / 12.0;
        let (x, y) = at;
        match self {
            Tool::Arrow => self.drawn((x - 2.0 * r, y - 2.0 * r), at, label),
            Tool::Crop | Tool::Text => self.drawn(at, at, label),
            Tool::Rect | Tool::Ellipse => self.drawn((x - r, y - r), (x + r, y + r), label),
        }
    }
}

/// One step, for a `w`×`h` picture: a fiftieth of its shorter side.
pub fn step((w, h): (f64, f64)) -> f64 {
    (w.min(h) / 50.0).max(1.0)
}

/// A mark moved by `(dx, dy)`, or resized: its second point (the arrow's
/// head, the box's far corner) moved. A label has no size to change.
pub fn nudge_shape(shape: &Shape, (dx, dy): Point, how: Nudge) -> Shape {
    let by = |(x, y): Point| (x + dx, y + dy);
    match (shape, how) {
        (Shape::Arrow(a, b), Nudge::Move) => Shape::Arrow(by(*a), by(*b)),
        (Shape::Rect(a, b), Nudge::Move) => Shape::Rect(by(*a), by(*b)),
        (Shape::Ellipse(a, b), Nudge::Move) => Shape::Ellipse(by(*a), by(*b)),
        (Shape::Arrow(a, b), Nudge::Resize) => Shape::Arrow(*a, by(*b)),
        (Shape::Rect(a, b), Nudge::Resize) => Shape::Rect(*a, by(*b)),
        (Shape::Ellipse(a, b), Nudge::Resize) => Shape::Ellipse(*a, by(*b)),
        (Shape::Text(at, text), Nudge::Move) => Shape::Text(by(*at), text.clone()),
        (Shape::Text(..), Nudge::Resize) => shape.clone(),
    }
}

/// The crop moved by `(dx, dy)` and kept inside the picture, or resized
/// from its top-left corner, held to `aspect` (width over height) if set.
pub fn nudge_crop(
    (x, y, cw, ch): Crop,
    (dx, dy): Point,
    how: Nudge,
    aspect: Option<f64>,
    (w, h): (f64, f64),
) -> Crop {
    match how {
        Nudge::Move => ((x + dx).clamp(0.0, w - cw), (y + dy).clamp(0.0, h - ch), cw, ch),
        Nudge::Resize => {
            let (mut nw, mut nh) = ((cw + dx).max(MIN_CROP), (ch + dy).max(MIN_CROP));
            if let Some(r) = aspect {
                // The side the step changed leads; the other follows.
                if dx != 0.0 {
                    nh = nw / r;
                } else {
                    nw = nh * r;
                }
            }
            // Within the picture: a free crop stops at each edge; a held
            // one shrinks both sides together until it fits.
            let fit = ((w - x) / nw).min((h - y) / nh).min(1.0);
            match aspect {
                Some(_) => (x, y, nw * fit, nh * fit),
                None => (x, y, nw.min(w - x), nh.min(h - y)),
            }
        }
    }
}

/// A crop typed in as numbers, kept inside the picture and to `aspect`.
pub fn typed_crop((x, y, cw, ch): Crop, aspect: Option<f64>, (w, h): (f64, f64)) -> Crop {
    let (x, y) = (x.clamp(0.0, w - MIN_CROP), y.clamp(0.0, h - MIN_CROP));
    crop_rect((x, y), (x + cw.max(MIN_CROP), y + ch.max(MIN_CROP)), aspect, (w, h))
}

/// How a mark is named in the list of marks and to a screen reader.
pub fn mark_name(shape: &Shape) -> String {
    match shape {
        Shape::Arrow(..) => "Arrow".to_owned(),
        Shape::Rect(..) => "Rectangle".to_owned(),
        Shape::Ellipse(..) => "Ellipse".to_owned(),
        Shape::Text(_, text) => format!("Text “{text}”"),
    }
}

/// Where a mark is, for a screen reader: its point (the arrow's head).
pub fn mark_point(shape: &Shape) -> Point {
    match shape {
        Shape::Arrow(_, b) | Shape::Text(b, _) => *b,
        Shape::Rect(a, b) | Shape::Ellipse(a, b) => ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PICTURE: (f64, f64) = (600.0, 300.0);

    #[test]
    fn a_click_places_a_mark_sized_to_the_picture() {
        // A sixth of the shorter side: 300 / 12 = 25 each way.
        assert_eq!(
            Tool::Rect.placed((100.0, 100.0), PICTURE, ""),
            Some(Shape::Rect((75.0, 75.0), (125.0, 125.0)))
        );
        assert_eq!(
            Tool::Arrow.placed((100.0, 100.0), PICTURE, ""),
            Some(Shape::Arrow((50.0, 50.0), (100.0, 100.0))),
            "the arrow's head is where the GP clicked"
        );
        assert_eq!(
            Tool::Text.placed((10.0, 20.0), PICTURE, "Lesion"),
            Some(Shape::Text((10.0, 20.0), "Lesion".into()))
        );
        assert_eq!(Tool::Text.placed((10.0, 20.0), PICTURE, "  "), None, "no empty label");
        assert_eq!(Tool::Crop.placed((10.0, 20.0), PICTURE, "x"), None);
    }

    #[test]
    fn marks_move_whole_and_resize_by_their_second_point() {
        let arrow = Shape::Arrow((0.0, 0.0), (10.0, 10.0));
        assert_eq!(nudge_shape(&arrow, (6.0, -2.0), Nudge::Move), Shape::Arrow((6.0, -2.0), (16.0, 8.0)));
        assert_eq!(nudge_shape(&arrow, (6.0, 0.0), Nudge::Resize), Shape::Arrow((0.0, 0.0), (16.0, 10.0)));
        let text = Shape::Text((5.0, 5.0), "a".into());
        assert_eq!(nudge_shape(&text, (1.0, 1.0), Nudge::Resize), text);
        assert_eq!(nudge_shape(&text, (1.0, 1.0), Nudge::Move), Shape::Text((6.0, 6.0), "a".into()));
        assert_eq!(mark_point(&Shape::Ellipse((0.0, 0.0), (10.0, 20.0))), (5.0, 10.0));
    }

    #[test]
    fn a_crop_moves_inside_the_picture() {
        let crop = (500.0, 10.0, 80.0, 40.0);
        assert_eq!(nudge_crop(crop, (50.0, -30.0), Nudge::Move, None, PICTURE), (520.0, 0.0, 80.0, 40.0));
        assert_eq!(nudge_crop(crop, (-6.0, 0.0), Nudge::Move, None, PICTURE), (494.0, 10.0, 80.0, 40.0));
    }

    #[test]
    fn a_crop_resizes_within_the_picture_and_its_aspect() {
        let crop = (500.0, 10.0, 80.0, 40.0);
        // Wider, until the right edge: 100 px is all there is.
        assert_eq!(nudge_crop(crop, (50.0, 0.0), Nudge::Resize, None, PICTURE), (500.0, 10.0, 100.0, 40.0));
        // Never smaller than 8 px.
        assert_eq!(nudge_crop(crop, (0.0, -100.0), Nudge::Resize, None, PICTURE), (500.0, 10.0, 80.0, 8.0));
        // Square: the width leads, the height follows, and both shrink to fit.
        let (_, _, w, h) = nudge_crop((0.0, 0.0, 50.0, 50.0), (6.0, 0.0), Nudge::Resize, Some(1.0), PICTURE);
        assert_eq!((w, h), (56.0, 56.0));
        let (_, _, w, h) =
            nudge_crop((0.0, 200.0, 96.0, 96.0), (6.0, 0.0), Nudge::Resize, Some(1.0), PICTURE);
        assert!(
            (w - 100.0).abs() < 1e-9 && (h - 100.0).abs() < 1e-9,
            "held to the bottom edge, still square: {w}×{h}"
        );
    }

    #[test]
    fn a_typed_crop_is_kept_inside_and_to_its_aspect() {
        assert_eq!(typed_crop((550.0, -5.0, 100.0, 50.0), None, PICTURE), (550.0, 0.0, 50.0, 50.0));
        assert_eq!(typed_crop((0.0, 0.0, 200.0, 100.0), Some(1.0), PICTURE), (0.0, 0.0, 100.0, 100.0));
        assert_eq!(typed_crop((0.0, 0.0, 0.0, 0.0), None, PICTURE), (0.0, 0.0, 8.0, 8.0));
    }
}
