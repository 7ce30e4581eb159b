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

/// A dialog's panel that takes focus as it opens, so its keys work at once
/// and a screen reader starts there: give the panel `node_ref` and `tabindex="-1"`.
pub fn focused_on_open() -> NodeRef<leptos::html::Div> {
    let panel = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        if let Some(panel) = panel.get() {
            // After the frame that puts it in the document: focusing an
            // element not yet attached does nothing.
            request_animation_frame(move || {
                let _ = panel.focus();
            });
        }
    });
    panel
}
