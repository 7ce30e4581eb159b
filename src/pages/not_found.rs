//! The 404 page.

use leptos::prelude::*;
use leptos_meta::Title;

/// Shown for any path the app does not know.
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <Title text="Not found · Clinical Images" />
        <main class="page page--narrow">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address."</p>
            <p><a href="/">"Go to the Clinical Images home page"</a></p>
        </main>
    }
}
