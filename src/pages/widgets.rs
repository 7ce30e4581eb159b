//! Small pieces several pages use.

use leptos::prelude::*;

use crate::model::ApiError;

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
