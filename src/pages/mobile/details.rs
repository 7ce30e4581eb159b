//! Details per photo: side, body site (practice chips and search),
//! description, consent (carried forward to the photos after it),
//! "Same as previous".

use leptos::prelude::*;

use super::capture::Thumb;
use super::flow::{start_sending, Flow};
use crate::model::{
    body_site, search_body_sites, site_label, ConsentRule, ImageMetadata, CONSENT_GIVERS, CONSENT_METHODS,
    CONSENT_SCOPES, DESCRIPTION_MAX_CHARS,
};
use crate::pages::widgets::{ConsentParts, SiteSearchBox, LATERALITY_CHOICES};

#[component]
pub(super) fn DetailsScreen(flow: Flow) -> impl IntoView {
    let photos = Memo::new(move |_| flow.usable().into_iter().map(|p| p.id).collect::<Vec<_>>());
    let count = move || photos.with(|p| p.len());
    let index = move || flow.current.get().min(count().saturating_sub(1));
    let photo = move || {
        let id = photos.with(|p| p.get(index()).copied());
        flow.photos.with(|v| id.and_then(|id| v.iter().find(|p| p.id == id).copied()))
    };
    let query = RwSignal::new(String::new());
    let templates = flow.settings.with_value(|s| s.body_site_templates.clone());

    let set = move |f: &dyn Fn(&mut ImageMetadata)| {
        if let Some(p) = photo() {
            p.metadata.update(|m| f(m));
        }
    };
    let metadata = move || photo().map(|p| p.metadata.get()).unwrap_or_default();
    // Consent is chosen in three parts and recorded whole. Once whole, it
    // is carried forward to the batch's later photos that have none, as the
    // GP usually asks once for the whole batch.
    let consent_parts = RwSignal::new(ConsentParts::default());
    Effect::new(move |_| {
        let consent = photo().and_then(|p| p.metadata.with_untracked(|m| m.consent));
        consent_parts.set(ConsentParts::of(consent));
    });
    let pick_consent = move |f: &dyn Fn(&mut ConsentParts)| {
        consent_parts.update(|p| f(p));
        let whole = consent_parts.with_untracked(ConsentParts::whole);
        set(&move |m| m.consent = whole);
        if let Some(consent) = whole {
            let ids = photos.get_untracked();
            let later = flow.photos.with_untracked(|v| {
                v.iter()
                    .filter(|p| ids.iter().skip(index() + 1).any(|id| *id == p.id))
                    .copied()
                    .collect::<Vec<_>>()
            });
            for p in later {
                if p.metadata.with_untracked(|m| m.consent.is_none()) {
                    p.metadata.update(|m| m.consent = Some(consent));
                }
            }
        }
    };
    let consent_required = flow.settings.with_value(|s| s.consent_rule) == ConsentRule::Required;
    let same_as_previous = move |_| {
        let ids = photos.get();
        let i = index();
        if i == 0 {
            return;
        }
        let previous = flow.photos.with(|v| v.iter().find(|p| p.id == ids[i - 1]).map(|p| p.metadata.get()));
        if let (Some(m), Some(p)) = (previous, photo()) {
            p.metadata.set(m);
        }
    };

    view! {
        <section class="m-screen" aria-labelledby="details-title">
            <h1 id="details-title">
                "Details " <span class="muted">{move || format!("Photo {} of {}", index() + 1, count())}</span>
            </h1>
            <p class="muted">"Optional. The GP can add these on the desktop too."</p>
            {move || photo().map(|p| view! { <Thumb flow photo=p /> })}
            <Show when=move || { index() > 0 }>
                <button class="button button--secondary button--block" on:click=same_as_previous>
                    "Same as previous"
                </button>
            </Show>
            <fieldset class="m-field">
                <legend>"Side"</legend>
                <div class="m-segments">
                    {LATERALITY_CHOICES
                        .into_iter()
                        .map(|(value, _, label)| {
                            view! {
                                <button
                                    type="button"
                                    class="m-chip"
                                    aria-pressed=move || (metadata().laterality == Some(value)).to_string()
                                    on:click=move |_| {
                                        set(&|m| {
                                            m.laterality = if m.laterality == Some(value) { None } else { Some(value) };
                                        })
                                    }
                                >
                                    {label}
                                </button>
                            }
                        })
                        .collect_view()}
                </div>
            </fieldset>
            <fieldset class="m-field">
                <legend>"Body site"</legend>
                <div class="m-chips">
                    {templates
                        .into_iter()
                        .filter_map(|code| body_site(&code))
                        .map(|site| {
                            let code = site.code.clone();
                            let pressed = code.clone();
                            view! {
                                <button
                                    type="button"
                                    class="m-chip"
                                    aria-pressed=move || {
                                        (metadata().body_site.as_deref() == Some(pressed.as_str())).to_string()
                                    }
                                    on:click=move |_| {
                                        let code = code.clone();
                                        set(&move |m| {
                                            m.body_site = if m.body_site.as_deref() == Some(code.as_str()) {
                                                None
                                            } else {
                                                Some(code.clone())
                                            };
                                        })
                                    }
                                >
                                    {site_label(&site.term)}
                                </button>
                            }
                        })
                        .collect_view()}
                </div>
                <SiteSearchBox query class="m-search" label="Search all body sites" />
                <ul class="m-results">
                    {move || {
                        search_body_sites(&query.get(), 6)
                            .into_iter()
                            .map(|site| {
                                let code = site.code.clone();
                                view! {
                                    <li>
                                        <button
                                            type="button"
                                            class="m-result"
                                            on:click=move |_| {
                                                let code = code.clone();
                                                set(&move |m| m.body_site = Some(code.clone()));
                                                query.set(String::new());
                                            }
                                        >
                                            {site_label(&site.term)}
                                        </button>
                                    </li>
                                }
                            })
                            .collect::<Vec<_>>()
                    }}
                </ul>
                <p class="m-chosen" aria-live="polite">
                    {move || {
                        metadata()
                            .body_site
                            .and_then(|c| body_site(&c))
                            .map(|s| format!("Chosen: {}", site_label(&s.term)))
                            .unwrap_or_default()
                    }}
                </p>
            </fieldset>
            <fieldset class="m-field m-consent">
                <legend>{if consent_required { "Consent (needed to file)" } else { "Consent" }}</legend>
                <ConsentChoice
                    id="consent-scope"
                    title="For"
                    choices=&CONSENT_SCOPES
                    current=Signal::derive(move || consent_parts.with(|p| p.scope))
                    on_pick=move |v| pick_consent(&move |p| p.scope = Some(v))
                />
                <ConsentChoice
                    id="consent-by"
                    title="Given by"
                    choices=&CONSENT_GIVERS
                    current=Signal::derive(move || consent_parts.with(|p| p.given_by))
                    on_pick=move |v| pick_consent(&move |p| p.given_by = Some(v))
                />
                <ConsentChoice
                    id="consent-how"
                    title="How"
                    choices=&CONSENT_METHODS
                    current=Signal::derive(move || consent_parts.with(|p| p.how))
                    on_pick=move |v| pick_consent(&move |p| p.how = Some(v))
                />
                <p class="m-chosen" aria-live="polite">
                    {move || metadata().consent.map(|c| c.note()).unwrap_or_else(|| "No consent recorded yet.".to_owned())}
                </p>
            </fieldset>
            <label class="m-field m-description">
                "Description"
                <textarea
                    rows="3"
                    maxlength=DESCRIPTION_MAX_CHARS
                    prop:value=move || metadata().description.unwrap_or_default()
                    on:input=move |ev| {
                        let text = event_target_value(&ev);
                        set(&move |m| m.description = Some(text.clone()).filter(|t| !t.trim().is_empty()));
                    }
                ></textarea>
                <span class="muted m-counter">
                    {move || {
                        format!(
                            "{} / {DESCRIPTION_MAX_CHARS}",
                            metadata().description.map(|d| d.chars().count()).unwrap_or(0),
                        )
                    }}
                </span>
            </label>
            <div class="m-bar">
                <button
                    class="button button--secondary"
                    disabled=move || index() == 0
                    on:click=move |_| flow.current.set(index().saturating_sub(1))
                >
                    "Previous"
                </button>
                <Show
                    when=move || { index() + 1 < count() }
                    fallback=move || {
                        view! {
                            <button class="button" on:click=move |_| start_sending(flow)>
                                "Send all"
                            </button>
                        }
                    }
                >
                    <button class="button" on:click=move |_| flow.current.set(index() + 1)>
                        "Next"
                    </button>
                </Show>
            </div>
            <button class="button button--link" on:click=move |_| start_sending(flow)>
                "Skip details and send"
            </button>
        </section>
    }
}

/// One part of the consent as a group of chips, the chosen one pressed.
#[component]
fn ConsentChoice<T: Copy + PartialEq + Send + Sync + 'static>(
    id: &'static str,
    title: &'static str,
    choices: &'static [(T, &'static str)],
    current: Signal<Option<T>>,
    on_pick: impl Fn(T) + Copy + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <p class="muted m-consent__group" id=id>{title}</p>
        <div class="m-chips" role="group" aria-labelledby=id>
            {choices
                .iter()
                .map(|(value, label)| {
                    let value = *value;
                    view! {
                        <button
                            type="button"
                            class="m-chip"
                            aria-pressed=move || (current.get() == Some(value)).to_string()
                            on:click=move |_| on_pick(value)
                        >
                            {*label}
                        </button>
                    }
                })
                .collect_view()}
        </div>
    }
}
