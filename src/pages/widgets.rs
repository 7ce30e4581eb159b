//! Small pieces several pages use.

use leptos::prelude::*;

use crate::model::{ApiError, Laterality};

/// The sides a photo can record, with the desktop's label and the phone's
/// shorter one.
pub const LATERALITY_CHOICES: [(Laterality, &str, &str); 4] = [
    (Laterality::Left, "Left", "Left"),
    (Laterality::Right, "Right", "Right"),
    (Laterality::Bilateral, "Bilateral", "Both"),
    (Laterality::NotApplicable, "Not applicable", "N/A"),
];

/// Picked photos, one at a time: each gets the next key from `counter` and
/// a UI handle made inside `owner` (so it outlives the screen that picked
/// it), then `start` runs it (through the pipeline, typically) in the
/// background. Both pages add photos this way.
pub fn for_each_picked<H: Copy + 'static, F: std::future::Future<Output = ()> + 'static>(
    files: Vec<web_sys::File>,
    counter: StoredValue<u32>,
    owner: StoredValue<Owner>,
    make: impl Fn(u32, &web_sys::File) -> H,
    start: impl Fn(H, web_sys::File) -> F,
) -> Vec<H> {
    let mut made = Vec::new();
    for file in files {
        let key = counter.get_value();
        counter.set_value(key + 1);
        let handle = owner.with_value(|o| o.with(|| make(key, &file)));
        made.push(handle);
        leptos::task::spawn_local(start(handle, file));
    }
    made
}

/// A spinner with a visible, screen-reader-announced label.
#[component]
pub fn Spinner(#[prop(into)] label: String) -> impl IntoView {
    view! {
        <div class="spinner" role="status" aria-live="polite">
            <span class="spinner__wheel" aria-hidden="true"></span>
            <span>{label}</span>
        </div>
    }
}

/// A plain-language error box.
#[component]
pub fn ErrorNotice(error: ApiError) -> impl IntoView {
    view! {
        <div class="notice notice--error" role="alert">
            {error.to_string()}
        </div>
    }
}

/// What the photo pickers accept: any image, and HEIC by extension (some
/// browsers give HEIC files no image type).
pub const PHOTO_TYPES: &str = "image/*,.heic,.heif";

/// A labelled button that opens the file picker for photos; the input itself
/// is visually hidden, the label is what the GP sees, taps and tabs to.
#[component]
pub fn PhotoPicker(
    #[prop(into)] label: String,
    #[prop(into)] class: String,
    on_files: impl Fn(Vec<web_sys::File>) + 'static,
    #[prop(optional)] icon: Option<&'static str>,
    /// `capture="environment"`: opens the phone's rear camera instead of the gallery.
    #[prop(optional)]
    camera: bool,
) -> impl IntoView {
    view! {
        <label class=class>
            {icon.map(|i| view! { <span class="m-action__icon" aria-hidden="true">{i}</span> })}
            {label}
            <input
                class="visually-hidden"
                type="file"
                accept=if camera { "image/*" } else { PHOTO_TYPES }
                multiple=!camera
                capture=camera.then_some("environment")
                on:change=move |ev| on_files(crate::client::chosen_files(&ev))
            />
        </label>
    }
}

/// The search box over the verified body-site list; `query` feeds
/// `search_body_sites`. Its placeholder doubles as its accessible name.
#[component]
pub fn SiteSearchBox(
    query: RwSignal<String>,
    #[prop(into)] class: String,
    #[prop(into)] label: String,
) -> impl IntoView {
    view! {
        <label class=class>
            <span class="visually-hidden">{label.clone()}</span>
            <input
                type="search"
                placeholder=label
                prop:value=move || query.get()
                on:input=move |e| query.set(event_target_value(&e))
            />
        </label>
    }
}

/// The parts of a consent being chosen (desktop and phone): a consent is
/// recorded only once all three are.
#[derive(Clone, Copy, Default, PartialEq, Debug)]
pub struct ConsentParts {
    pub scope: Option<crate::model::ConsentScope>,
    pub given_by: Option<crate::model::ConsentGiver>,
    pub how: Option<crate::model::ConsentMethod>,
}

impl ConsentParts {
    pub fn of(consent: Option<crate::model::Consent>) -> Self {
        consent.map_or_else(Self::default, |c| Self {
            scope: Some(c.scope),
            given_by: Some(c.given_by),
            how: Some(c.how),
        })
    }

    /// The consent, once every part is chosen.
    pub fn whole(&self) -> Option<crate::model::Consent> {
        Some(crate::model::Consent { scope: self.scope?, given_by: self.given_by?, how: self.how? })
    }
}

/// What an async call answers, as a signal: `None` until it has. Unlike a
/// resource, reading it never suspends the page's `Suspense` around it,
/// which would take the page out of the document and focus with it: a
/// dialog fetches this way while it holds focus.
pub fn fetched<T: Send + Sync + 'static>(
    call: impl std::future::Future<Output = T> + 'static,
) -> ReadSignal<Option<T>> {
    let (value, set) = signal(None);
    leptos::task::spawn_local(async move {
        let answer = call.await;
        // The dialog may have closed meanwhile.
        let _ = set.try_set(Some(answer));
    });
    value
}

/// Where focus goes when a dialog closes and the control that opened it is
/// gone (a deleted photo's button): the selected photo, else any photo,
/// else the toolbar's first control.
#[cfg(feature = "hydrate")]
const FOCUS_HOME: &[&str] =
    &[".strip__item[aria-selected='true']", ".strip__item", ".desk__bar button:not([disabled])"];

/// Focus for a modal dialog (WCAG 2.4.3): into the dialog as it opens, and
/// back where it came from as it closes. Give the dialog's panel the
/// returned `node_ref` and `tabindex="-1"`.
/// - Opening focuses the control marked `data-autofocus`, else the panel's
///   first control, else the panel itself.
/// - Closing focuses the control that had focus before it opened (the
///   opener), or if that is gone, the first of [`FOCUS_HOME`] present.
///
/// The page behind is `inert` while a dialog is open (`Workspace`), so Tab
/// cannot leave it.
pub fn modal_focus() -> NodeRef<leptos::html::Div> {
    let panel = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    {
        // The opener is marked rather than held: the mark survives whatever
        // owns this dialog being disposed first.
        if let Some(opener) = document().active_element() {
            if opener.closest(".modal").ok().flatten().is_none() {
                let _ = opener.set_attribute(RETURN_MARK, "");
            }
        }
        Effect::new(move |_| {
            if let Some(panel) = panel.get() {
                // After the frame that lays the dialog out: an element not
                // yet rendered cannot take focus.
                request_animation_frame(move || focus_into(&panel));
            }
        });
        on_cleanup(|| {
            request_animation_frame(return_focus);
        });
    }
    panel
}

/// Moves focus to the heading `selector` finds, after the frame that lays it
/// out: a screen reader then starts reading the new screen at its heading,
/// not at the top of the page (the phone's screen changes).
pub fn focus_heading(selector: &'static str) {
    #[cfg(feature = "hydrate")]
    request_animation_frame(move || {
        use wasm_bindgen::JsCast;
        let heading = document()
            .query_selector(selector)
            .ok()
            .flatten()
            .and_then(|h| h.dyn_into::<web_sys::HtmlElement>().ok());
        if let Some(heading) = heading {
            heading.set_tab_index(-1);
            let _ = heading.focus();
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = selector;
}

/// After a dialog's focused control went away (the commit's Confirm, once
/// the commit is done), focus `to` instead, if focus fell out of the dialog.
pub fn refocus_if_lost(to: NodeRef<leptos::html::Button>) {
    #[cfg(feature = "hydrate")]
    request_animation_frame(move || {
        let lost = document().active_element().is_none_or(|a| a.closest(".modal").ok().flatten().is_none());
        if let (true, Some(button)) = (lost, to.get_untracked()) {
            let _ = button.focus();
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = to;
}

#[cfg(feature = "hydrate")]
const RETURN_MARK: &str = "data-return-focus";

#[cfg(feature = "hydrate")]
fn focus_into(panel: &web_sys::HtmlDivElement) {
    use wasm_bindgen::JsCast;
    const CONTROLS: &str =
        "[data-autofocus], button:not([disabled]), [href], input:not([disabled]), select, textarea";
    let target = panel
        .query_selector("[data-autofocus]")
        .ok()
        .flatten()
        .or_else(|| panel.query_selector(CONTROLS).ok().flatten())
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
    match target {
        Some(control) => {
            let _ = control.focus();
        }
        None => {
            let _ = panel.focus();
        }
    }
}

/// After a dialog closed, once the page is no longer inert.
#[cfg(feature = "hydrate")]
fn return_focus() {
    use wasm_bindgen::JsCast;
    let doc = document();
    if doc.query_selector(".modal").ok().flatten().is_some() {
        return; // another dialog replaced this one and holds focus
    }
    let marked = doc.query_selector(&format!("[{RETURN_MARK}]")).ok().flatten();
    if let Some(m) = &marked {
        let _ = m.remove_attribute(RETURN_MARK);
    }
    let home = || FOCUS_HOME.iter().find_map(|s| doc.query_selector(s).ok().flatten());
    let target = marked
        .filter(|m| m.is_connected() && !m.has_attribute("disabled"))
        .or_else(home)
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
    if let Some(target) = target {
        let _ = target.focus();
    }
}
