//! A photo edit as data: quarter turns, a crop and annotations, in
//! "oriented" coordinates (the source turned by `turns` quarter turns).
//! [`Edit::rotate`] maps crop and shapes along. No I/O: the desktop's
//! editor draws it (`client::canvas`) and saves the rendered pixels.

/// A point in oriented image coordinates.
pub type Point = (f64, f64);

#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    Arrow(Point, Point),
    Rect(Point, Point),
    Ellipse(Point, Point),
    Text(Point, String),
}

/// An edit, as data.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Edit {
    /// Quarter turns clockwise.
    pub turns: u8,
    /// `(x, y, w, h)` in oriented coordinates.
    pub crop: Option<(f64, f64, f64, f64)>,
    pub shapes: Vec<Shape>,
}

impl Edit {
    /// Size of the oriented image for a `w`×`h` source.
    pub fn oriented(&self, w: f64, h: f64) -> (f64, f64) {
        if self.turns % 2 == 1 {
            (h, w)
        } else {
            (w, h)
        }
    }

    /// Turns a quarter clockwise (or back), carrying crop and shapes along.
    /// `size` is the oriented size before the turn.
    pub fn rotate(&self, clockwise: bool, (w, h): (f64, f64)) -> Edit {
        let map = |(x, y): Point| if clockwise { (h - y, x) } else { (y, w - x) };
        let rect = |a: Point, b: Point| (map(a), map(b));
        Edit {
            turns: (self.turns + if clockwise { 1 } else { 3 }) % 4,
            crop: self.crop.map(|(x, y, cw, ch)| {
                let (a, b) = rect((x, y), (x + cw, y + ch));
                (a.0.min(b.0), a.1.min(b.1), (a.0 - b.0).abs(), (a.1 - b.1).abs())
            }),
            shapes: self
                .shapes
                .iter()
                .map(|s| match s {
                    Shape::Arrow(a, b) => Shape::Arrow(map(*a), map(*b)),
                    Shape::Rect(a, b) => Shape::Rect(map(*a), map(*b)),
                    Shape::Ellipse(a, b) => Shape::Ellipse(map(*a), map(*b)),
                    Shape::Text(a, t) => Shape::Text(map(*a), t.clone()),
                })
                .collect(),
        }
    }

    /// The output size: the crop, else the oriented image.
    pub fn output(&self, w: f64, h: f64) -> (f64, f64) {
        match self.crop {
            Some((_, _, cw, ch)) => (cw, ch),
            None => self.oriented(w, h),
        }
    }
}

/// A crop rectangle from a drag, held to an aspect ratio and inside the image.
pub fn crop_rect(a: Point, b: Point, aspect: Option<f64>, (w, h): (f64, f64)) -> (f64, f64, f64, f64) {
    let (mut cw, mut ch) = ((b.0 - a.0).abs(), (b.1 - a.1).abs());
    if let Some(r) = aspect {
        if cw / ch.max(1.0) > r {
            cw = ch * r;
        } else {
            ch = cw / r;
        }
    }
    let x = if b.0 < a.0 { a.0 - cw } else { a.0 };
    let y = if b.1 < a.1 { a.1 - ch } else { a.1 };
    let (x, y) = (x.clamp(0.0, w), y.clamp(0.0, h));
    (x, y, cw.min(w - x).max(1.0), ch.min(h - y).max(1.0))
}

/// If `p` is within `reach` of a corner of `crop`, the opposite corner: the
/// anchor a resize drags from.
pub fn crop_handle((x, y, w, h): (f64, f64, f64, f64), p: Point, reach: f64) -> Option<Point> {
    let corners = [
        ((x, y), (x + w, y + h)),
        ((x + w, y), (x, y + h)),
        ((x, y + h), (x + w, y)),
        ((x + w, y + h), (x, y)),
    ];
    corners
        .into_iter()
        .find(|((cx, cy), _)| (p.0 - cx).abs() <= reach && (p.1 - cy).abs() <= reach)
        .map(|(_, opposite)| opposite)
}

/// The editor's states, for undo and redo: the photo as it came, then each
/// change. A change after an undo drops what could have been redone, and a
/// change that changes nothing is not a step.
#[derive(Clone, Debug, PartialEq)]
pub struct EditHistory {
    states: Vec<Edit>,
    at: usize,
}

impl Default for EditHistory {
    fn default() -> Self {
        EditHistory { states: vec![Edit::default()], at: 0 }
    }
}

impl EditHistory {
    /// The edit as it stands.
    pub fn current(&self) -> &Edit {
        &self.states[self.at]
    }

    /// Makes `edit` the current state.
    pub fn push(&mut self, edit: Edit) {
        if edit == *self.current() {
            return;
        }
        self.states.truncate(self.at + 1);
        self.states.push(edit);
        self.at += 1;
    }

    /// Steps back; false if there is nothing to undo.
    pub fn undo(&mut self) -> bool {
        let can = self.can_undo();
        if can {
            self.at -= 1;
        }
        can
    }

    /// Steps forward again; false if there is nothing to redo.
    pub fn redo(&mut self) -> bool {
        let can = self.can_redo();
        if can {
            self.at += 1;
        }
        can
    }

    pub fn can_undo(&self) -> bool {
        self.at > 0
    }

    pub fn can_redo(&self) -> bool {
        self.at + 1 < self.states.len()
    }

    /// Whether the current state is the photo as it came (nothing to save).
    pub fn is_unchanged(&self) -> bool {
        *self.current() == Edit::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_and_redo_walk_the_changes_and_a_new_change_drops_the_redo() {
        let turned = Edit { turns: 1, ..Edit::default() };
        let cropped = Edit { crop: Some((0.0, 0.0, 10.0, 10.0)), ..turned.clone() };
        let mut history = EditHistory::default();
        assert!(!history.can_undo() && !history.undo() && !history.redo());
        history.push(turned.clone());
        history.push(cropped.clone());
        history.push(cropped.clone()); // no change, no step
        assert!(history.undo());
        assert_eq!(history.current(), &turned);
        assert!(history.undo());
        assert!(history.is_unchanged() && !history.undo());
        assert!(history.redo() && history.redo() && !history.redo());
        assert_eq!(history.current(), &cropped);
        history.undo();
        let boxed = Edit { shapes: vec![Shape::Rect((1.0, 1.0), (5.0, 5.0))], ..turned.clone() };
        history.push(boxed.clone());
        assert!(!history.can_redo(), "the crop can no longer be redone");
        assert_eq!(history.current(), &boxed);
        // Reset is a change like any other, so it can be undone.
        history.push(Edit::default());
        assert!(history.is_unchanged());
        history.undo();
        assert_eq!(history.current(), &boxed);
    }

    #[test]
    fn rotating_carries_crop_and_shapes_along() {
        let edit = Edit {
            turns: 0,
            crop: Some((10.0, 20.0, 30.0, 40.0)),
            shapes: vec![Shape::Arrow((0.0, 0.0), (100.0, 50.0))],
        };
        // A 200×100 image turned clockwise is 100×200: (x, y) → (100 − y, x).
        let turned = edit.rotate(true, (200.0, 100.0));
        assert_eq!(turned.turns, 1);
        assert_eq!(turned.crop, Some((40.0, 10.0, 40.0, 30.0)));
        assert_eq!(turned.shapes, vec![Shape::Arrow((100.0, 0.0), (50.0, 100.0))]);
        assert_eq!(turned.output(200.0, 100.0), (40.0, 30.0));
        // And back again.
        assert_eq!(turned.rotate(false, (100.0, 200.0)), edit);
    }

    #[test]
    fn a_crop_handle_resizes_from_the_opposite_corner() {
        let crop = (10.0, 20.0, 100.0, 50.0);
        assert_eq!(crop_handle(crop, (112.0, 68.0), 5.0), Some((10.0, 20.0)), "bottom-right grabs");
        assert_eq!(crop_handle(crop, (9.0, 21.0), 5.0), Some((110.0, 70.0)), "top-left grabs");
        assert_eq!(crop_handle(crop, (60.0, 45.0), 5.0), None, "the middle starts a new crop");
        // Dragging the bottom-right handle inward shrinks the crop.
        assert_eq!(crop_rect((10.0, 20.0), (60.0, 45.0), None, (200.0, 100.0)), (10.0, 20.0, 50.0, 25.0));
    }

    #[test]
    fn crops_keep_their_aspect_and_stay_inside() {
        assert_eq!(
            crop_rect((10.0, 10.0), (110.0, 30.0), Some(1.0), (200.0, 100.0)),
            (10.0, 10.0, 20.0, 20.0)
        );
        assert_eq!(crop_rect((150.0, 80.0), (250.0, 130.0), None, (200.0, 100.0)), (150.0, 80.0, 50.0, 20.0));
        let (_, _, w, h) = crop_rect((0.0, 0.0), (90.0, 90.0), Some(4.0 / 3.0), (200.0, 100.0));
        assert!((w / h - 4.0 / 3.0).abs() < 1e-9);
    }
}
