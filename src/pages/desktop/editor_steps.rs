//! The editor's ways that need no drag (WCAG 2.1.1, 2.5.7): a mark placed
//! by a click, a button or Enter; the crop or the chosen mark moved and
//! resized in steps by arrow keys or the step pad; the crop typed in as
//! numbers. Each change is one undo step and is said aloud.

use leptos::prelude::*;

use super::nudge::NudgePad;
use crate::model::edit::{Edit, EditHistory, Point};
use crate::model::marks::{
    mark_name, mark_point, nudge_crop, nudge_shape, step, typed_crop, Crop, Nudge, Tool,
};

/// The editor's state, shared by the dialog and these controls.
#[derive(Clone, Copy)]
pub struct Ed {
    pub history: RwSignal<EditHistory>,
    pub tool: RwSignal<Tool>,
    /// Width over height, when the crop is held to one.
    pub aspect: RwSignal<Option<f64>>,
    pub label: RwSignal<String>,
    /// The mark the steps act on (the latest one, unless another is chosen).
    pub chosen: RwSignal<Option<usize>>,
    pub mode: RwSignal<Nudge>,
    /// The source photo's size, once loaded.
    pub source: RwSignal<Option<(f64, f64)>>,
    /// What a screen reader is told after a change.
    pub said: RwSignal<String>,
}

impl Default for Ed {
    fn default() -> Self {
        Ed {
            history: RwSignal::new(EditHistory::default()),
            tool: RwSignal::new(Tool::Crop),
            aspect: RwSignal::new(None),
            label: RwSignal::new("Lesion".to_owned()),
            chosen: RwSignal::new(None),
            mode: RwSignal::new(Nudge::Move),
            source: RwSignal::new(None),
            said: RwSignal::new(String::new()),
        }
    }
}

impl Ed {
    pub fn current(&self) -> Edit {
        self.history.with(|h| h.current().clone())
    }

    /// The picture's size as turned now.
    pub fn oriented(&self) -> Option<(f64, f64)> {
        let (w, h) = self.source.get()?;
        Some(self.history.with(|hist| hist.current().oriented(w, h)))
    }

    pub fn push(&self, edit: Edit) {
        self.history.update(|h| h.push(edit));
    }

    /// The mark the steps act on: the chosen one if it still exists, else the latest.
    pub fn chosen_mark(&self) -> Option<usize> {
        let count = self.history.with(|h| h.current().shapes.len());
        self.chosen.get().filter(|i| *i < count).or(count.checked_sub(1))
    }

    /// Places a mark of the current tool at `at` (a click, or Enter).
    pub fn place_at(&self, at: Point) {
        let Some(size) = self.oriented() else { return };
        let Some(shape) = self.tool.get_untracked().placed(at, size, &self.label.get_untracked()) else {
            return;
        };
        let mut edit = self.current();
        let (x, y) = mark_point(&shape);
        self.said.set(format!("{} placed at {x:.0}, {y:.0}.", mark_name(&shape)));
        edit.shapes.push(shape);
        self.chosen.set(Some(edit.shapes.len() - 1));
        self.push(edit);
    }

    /// Places a mark in the middle of what is kept (the crop, or the picture).
    pub fn place_in_middle(&self) {
        let Some((w, h)) = self.oriented() else { return };
        let (x, y, cw, ch) = self.current().crop.unwrap_or((0.0, 0.0, w, h));
        self.place_at((x + cw / 2.0, y + ch / 2.0));
    }

    /// One step of the crop (with the crop tool) or of the chosen mark.
    pub fn nudge(&self, (ux, uy): (f64, f64), how: Nudge) {
        let Some(size) = self.oriented() else { return };
        let by = (ux * step(size), uy * step(size));
        let mut edit = self.current();
        if self.tool.get_untracked() == Tool::Crop {
            let crop = edit.crop.unwrap_or((0.0, 0.0, size.0, size.1));
            let crop = nudge_crop(crop, by, how, self.aspect.get_untracked(), size);
            self.said.set(describe_crop(crop));
            edit.crop = Some(crop);
        } else {
            let Some(i) = self.chosen_mark() else {
                self.said.set("There is no mark to move. Place one first.".into());
                return;
            };
            let shape = nudge_shape(&edit.shapes[i], by, how);
            let (x, y) = mark_point(&shape);
            self.said.set(format!("{} at {x:.0}, {y:.0}.", mark_name(&shape)));
            edit.shapes[i] = shape;
        }
        self.push(edit);
    }

    /// One crop number typed in: `field` is 0–3 for x, y, width, height.
    fn type_crop(&self, field: usize, value: f64) {
        let Some(size) = self.oriented() else { return };
        let mut edit = self.current();
        let mut parts: [f64; 4] = crop_parts(edit.crop.unwrap_or((0.0, 0.0, size.0, size.1)));
        parts[field] = value;
        let crop = typed_crop((parts[0], parts[1], parts[2], parts[3]), self.aspect.get_untracked(), size);
        self.said.set(describe_crop(crop));
        edit.crop = Some(crop);
        self.push(edit);
    }
}

fn crop_parts((x, y, w, h): Crop) -> [f64; 4] {
    [x, y, w, h]
}

fn describe_crop((x, y, w, h): Crop) -> String {
    format!("Crop {w:.0} by {h:.0} pixels, from {x:.0}, {y:.0}.")
}

/// The arrow keys on the drawing area: a step, or with Shift a resize;
/// Enter places a mark. True if the key was used.
pub fn on_stage_key(ed: Ed, e: &web_sys::KeyboardEvent) -> bool {
    if e.ctrl_key() || e.meta_key() || e.alt_key() {
        return false;
    }
    if let Some(unit) = super::nudge::arrow_step(&e.key()) {
        ed.nudge(unit, if e.shift_key() { Nudge::Resize } else { Nudge::Move });
        return true;
    }
    if e.key() == "Enter" && ed.tool.get_untracked() != Tool::Crop {
        ed.place_in_middle();
        return true;
    }
    false
}

/// The controls under the drawing area.
#[component]
pub fn StepControls(ed: Ed) -> impl IntoView {
    let is_crop = move || ed.tool.get() == Tool::Crop;
    let crop_now = move || {
        let (w, h) = ed.oriented().unwrap_or((0.0, 0.0));
        crop_parts(ed.current().crop.unwrap_or((0.0, 0.0, w, h)))
    };
    let field = move |i: usize, name: &'static str| {
        view! {
            <label class="editor__number">
                {name}
                <input
                    type="number"
                    min="0"
                    step="1"
                    inputmode="numeric"
                    prop:value=move || format!("{:.0}", crop_now()[i])
                    on:change=move |e| {
                        if let Ok(v) = event_target_value(&e).trim().parse::<f64>() {
                            ed.type_crop(i, v);
                        }
                    }
                />
            </label>
        }
    };
    let marks = move || ed.history.with(|h| h.current().shapes.iter().map(mark_name).collect::<Vec<_>>());
    let mode_button = move |how: Nudge, name: &'static str| {
        view! {
            <button type="button" class="button button--secondary" aria-pressed=move || (ed.mode.get() == how).to_string() on:click=move |_| ed.mode.set(how)>
                {name}
            </button>
        }
    };
    view! {
        <div class="editor__steps">
            <Show
                when=is_crop
                fallback=move || view! {
                    <button type="button" class="button button--secondary" on:click=move |_| ed.place_in_middle()>
                        "Place in the middle"
                    </button>
                    <Show when=move || !marks().is_empty()>
                        <label class="editor__number">
                            <span aria-hidden="true">"Mark"</span>
                            <select aria-label="Mark" on:change=move |e| ed.chosen.set(event_target_value(&e).parse().ok())>
                                {move || {
                                    let chosen = ed.chosen_mark();
                                    marks()
                                        .into_iter()
                                        .enumerate()
                                        .map(|(i, name)| view! {
                                            <option value=i.to_string() selected=chosen == Some(i)>{format!("{}. {name}", i + 1)}</option>
                                        })
                                        .collect_view()
                                }}
                            </select>
                        </label>
                        <button type="button" class="button button--secondary" on:click=move |_| {
                            if let Some(i) = ed.chosen_mark() {
                                let mut edit = ed.current();
                                let gone = edit.shapes.remove(i);
                                ed.said.set(format!("{} removed.", mark_name(&gone)));
                                ed.push(edit);
                            }
                        }>"Remove mark"</button>
                    </Show>
                }
            >
                <fieldset class="editor__crop">
                    <legend>"Crop, in pixels"</legend>
                    {field(0, "Left")}
                    {field(1, "Top")}
                    {field(2, "Width")}
                    {field(3, "Height")}
                </fieldset>
            </Show>
            <div class="editor__pad">
                <div role="group" aria-label="What the step buttons do" class="editor__mode">
                    {mode_button(Nudge::Move, "Move")}
                    {mode_button(Nudge::Resize, "Resize")}
                </div>
                <NudgePad
                    label=Signal::derive(move || if is_crop() { "Step the crop".to_owned() } else { "Step the mark".to_owned() })
                    verb="Step"
                    on_step=move |unit| ed.nudge(unit, ed.mode.get_untracked())
                />
            </div>
        </div>
        <p class="visually-hidden" role="status" aria-live="polite">{move || ed.said.get()}</p>
    }
}
