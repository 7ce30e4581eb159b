//! Four step buttons, the single-pointer way to move what would otherwise
//! need a drag (WCAG 2.5.7): the zoomed preview's view, the editor's crop
//! and marks. The same steps are on the arrow keys where those apply.

use leptos::prelude::*;

/// The four directions, as unit steps, with their names and glyphs, in
/// the order they sit in the pad (a cross: up; left, right; down).
const STEPS: [((f64, f64), &str, &str); 4] = [
    ((0.0, -1.0), "up", "↑"),
    ((-1.0, 0.0), "left", "←"),
    ((1.0, 0.0), "right", "→"),
    ((0.0, 1.0), "down", "↓"),
];

/// A step in the direction an arrow key names, if it is one.
pub fn arrow_step(key: &str) -> Option<(f64, f64)> {
    let name = match key {
        "ArrowUp" => "up",
        "ArrowLeft" => "left",
        "ArrowRight" => "right",
        "ArrowDown" => "down",
        _ => return None,
    };
    STEPS.iter().find(|(_, n, _)| *n == name).map(|(step, _, _)| *step)
}

/// The pad. Each button is named "`verb` up" and so on; `on_step` gets the
/// unit step.
#[component]
pub fn NudgePad(
    #[prop(into)] label: Signal<String>,
    verb: &'static str,
    #[prop(into)] on_step: Callback<(f64, f64)>,
) -> impl IntoView {
    view! {
        <div class="nudge" role="group" aria-label=move || label.get()>
            {STEPS
                .into_iter()
                .map(|(step, name, glyph)| view! {
                    <button
                        type="button"
                        class=format!("button button--secondary nudge__{name}")
                        aria-label=format!("{verb} {name}")
                        on:click=move |_| on_step.run(step)
                    >
                        {glyph}
                    </button>
                })
                .collect_view()}
        </div>
    }
}
