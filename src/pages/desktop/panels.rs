//! The side panels: metadata for the selection, and the phone's QR code.

use leptos::prelude::*;

use super::desk::Desk;
use super::desk::Dialog;
use crate::api::create_mobile_token;
use crate::model::{
    body_site, search_body_sites, site_label, ConsentGiver, ConsentMethod, ConsentRule, ConsentScope,
    ImageKind, ImageMetadata, ImageStatus, ImageView, MobileGrant, CONSENT_GIVERS, CONSENT_METHODS,
    CONSENT_SCOPES, DESCRIPTION_MAX_CHARS,
};
use crate::pages::widgets::{ConsentParts, SiteSearchBox, LATERALITY_CHOICES};

const RECENT_KEY: &str = "clinical-images.recent-sites";

fn recent_sites() -> Vec<String> {
    // Also rendered on the server, where there is no browser storage.
    if !cfg!(target_arch = "wasm32") {
        return Vec::new();
    }
    web_sys::window()
        .and_then(|w| w.local_storage().ok().flatten())
        .and_then(|s| s.get_item(RECENT_KEY).ok().flatten())
        .map(|v| v.split(',').filter(|c| body_site(c).is_some()).map(str::to_owned).collect())
        .unwrap_or_default()
}

fn remember_site(code: &str) {
    let mut recent = recent_sites();
    recent.retain(|c| c != code);
    recent.insert(0, code.to_owned());
    recent.truncate(6);
    if let Some(storage) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = storage.set_item(RECENT_KEY, &recent.join(","));
    }
}

#[component]
pub fn MetadataPanel(desk: Desk) -> impl IntoView {
    // The draft starts from the focused image whenever the selection changes,
    // and only then: a list refresh (another photo's update arriving over
    // the event stream) must not wipe what the GP is typing.
    let draft = RwSignal::new(ImageMetadata::default());
    // Consent is recorded whole: its three parts are chosen here, and the
    // draft holds a consent only once all three are.
    let consent_parts = RwSignal::new(ConsentParts::default());
    // A memo notifies only when its value changes, not on every write.
    let selection = Memo::new(move |_| (desk.focused.get(), desk.selected.get()));
    Effect::new(move |_| {
        let (focused, _) = selection.get();
        let m = untrack(|| focused.and_then(|id| desk.image(&id)).map(|i| i.metadata).unwrap_or_default());
        consent_parts.set(ConsentParts::of(m.consent));
        draft.set(m);
    });
    let pick_consent = move |f: &dyn Fn(&mut ConsentParts)| {
        consent_parts.update(|p| f(p));
        let whole = consent_parts.with_untracked(ConsentParts::whole);
        draft.update(|m| m.consent = whole);
    };
    let consent_required = desk.settings.with_value(|s| s.consent_rule) == ConsentRule::Required;
    let pick_scope = move |v: Option<ConsentScope>| pick_consent(&move |p| p.scope = v);
    let pick_given_by = move |v: Option<ConsentGiver>| pick_consent(&move |p| p.given_by = v);
    let pick_how = move |v: Option<ConsentMethod>| pick_consent(&move |p| p.how = v);
    let count = move || desk.selected.with(Vec::len);
    let locked = move || {
        desk.selected.with(|s| {
            !s.is_empty()
                && s.iter().all(|id| {
                    desk.image(id).is_some_and(|i| matches!(i.status, ImageStatus::Committed { .. }))
                })
        })
    };
    let closed = Signal::derive(move || count() == 0 || locked());
    let query = RwSignal::new(String::new());
    let templates = desk.settings.with_value(|s| s.body_site_templates.clone());
    let rule_hint = desk.settings.with_value(|s| s.commit_rule.hint());

    let choose_site = move |code: String| {
        remember_site(&code);
        draft.update(|m| m.body_site = Some(code));
        query.set(String::new());
    };

    view! {
        <section class="panel" aria-labelledby="details-heading">
            <h2 id="details-heading">
                {move || match count() {
                    0 => "Details".to_owned(),
                    1 => format!("Details · Photo {}", desk.selected.with(|s| desk.number_of(&s[0]))),
                    n => format!("Details · {n} photos selected"),
                }}
            </h2>
            <Show when=move || count() == 0>
                <p class="muted">"Select a photo to add its details. Ctrl+click selects several."</p>
            </Show>
            <Show when=move || locked()>
                <p class="notice notice--ok">"Committed photos are locked."</p>
            </Show>
            <fieldset class="panel__group" disabled=move || count() == 0 || locked()>
                <legend>"Laterality"</legend>
                <div class="segments">
                    {LATERALITY_CHOICES
                        .into_iter()
                        .map(|(value, label, _)| {
                            view! {
                                <label class="segment">
                                    <input
                                        type="radio"
                                        name="laterality"
                                        prop:checked=move || draft.with(|m| m.laterality == Some(value))
                                        on:change=move |_| draft.update(|m| m.laterality = Some(value))
                                    />
                                    {label}
                                </label>
                            }
                        })
                        .collect_view()}
                </div>
            </fieldset>
            <fieldset class="panel__group" disabled=move || count() == 0 || locked()>
                <legend>"Body site"</legend>
                <p class="panel__chosen">
                    {move || {
                        draft
                            .with(|m| m.body_site.clone())
                            .and_then(|c| body_site(&c))
                            .map(|s| format!("{} (SNOMED {})", site_label(&s.term), s.code))
                            .unwrap_or_else(|| "None chosen".to_owned())
                    }}
                </p>
                <SiteSearchBox query class="panel__search" label="Search body sites" />
                // Scrolled by keyboard through its buttons; while they are
                // disabled (no photo chosen), it does not scroll (main.css).
                <ul class="site-list" aria-label="Body sites">
                    {move || {
                        let found = search_body_sites(&query.get(), 8);
                        let sites: Vec<(String, String, &'static str)> = if !found.is_empty() {
                            found.into_iter().map(|s| (s.code.clone(), s.term.clone(), "")).collect()
                        } else {
                            let recent = recent_sites();
                            let mut out: Vec<(String, String, &'static str)> = recent
                                .iter()
                                .filter_map(|c| body_site(c))
                                .map(|s| (s.code.clone(), s.term.clone(), "Recent"))
                                .collect();
                            out.extend(
                                templates
                                    .iter()
                                    .filter(|c| !recent.contains(c))
                                    .filter_map(|c| body_site(c))
                                    .map(|s| (s.code.clone(), s.term.clone(), "Practice")),
                            );
                            out
                        };
                        sites
                            .into_iter()
                            .map(|(code, term, group)| {
                                let pressed = code.clone();
                                view! {
                                    <li>
                                        <button
                                            type="button"
                                            class="site-option"
                                            aria-pressed=move || draft.with(|m| m.body_site.as_deref() == Some(pressed.as_str())).to_string()
                                            on:click=move |_| choose_site(code.clone())
                                        >
                                            {site_label(&term)}
                                            <span class="muted">{group}</span>
                                        </button>
                                    </li>
                                }
                            })
                            .collect_view()
                    }}
                </ul>
            </fieldset>
            <div class="panel__row">
                {draft_choice("View", &VIEWS, draft, closed, |m| m.view, |m, v| m.view = v)}
                {draft_choice("Type", &KINDS, draft, closed, |m| m.kind, |m, k| m.kind = k)}
            </div>
            <label class="panel__field">
                "Description"
                <textarea
                    rows="3"
                    maxlength=DESCRIPTION_MAX_CHARS
                    disabled=move || count() == 0 || locked()
                    prop:value=move || draft.with(|m| m.description.clone().unwrap_or_default())
                    on:input=move |e| {
                        let text = event_target_value(&e);
                        draft.update(|m| m.description = Some(text).filter(|t| !t.trim().is_empty()));
                    }
                ></textarea>
                <span class="panel__counter muted">
                    {move || format!("{} / {DESCRIPTION_MAX_CHARS}", draft.with(|m| m.description.as_ref().map(|d| d.chars().count()).unwrap_or(0)))}
                </span>
            </label>
            <fieldset class="panel__group panel__consent" disabled=move || count() == 0 || locked()>
                <legend>{if consent_required { "Consent (needed to file)" } else { "Consent" }}</legend>
                <ChoiceSelect
                    label="For"
                    choices=&CONSENT_SCOPES
                    current=Signal::derive(move || consent_parts.with(|p| p.scope))
                    disabled=closed
                    on_pick=pick_scope
                />
                <ChoiceSelect
                    label="Given by"
                    choices=&CONSENT_GIVERS
                    current=Signal::derive(move || consent_parts.with(|p| p.given_by))
                    disabled=closed
                    on_pick=pick_given_by
                />
                <ChoiceSelect
                    label="How"
                    choices=&CONSENT_METHODS
                    current=Signal::derive(move || consent_parts.with(|p| p.how))
                    disabled=closed
                    on_pick=pick_how
                />
                <p class="panel__chosen" aria-live="polite">
                    {move || draft.with(|m| m.consent.map(|c| c.note()).unwrap_or_else(|| "No consent recorded".to_owned()))}
                </p>
                <button
                    type="button"
                    class="button button--secondary button--block"
                    disabled=move || count() == 0 || locked()
                    on:click=move |_| desk.dialog.set(Dialog::ConfirmDelete(desk.selected.get_untracked()))
                >
                    "Consent withdrawn: delete"
                </button>
            </fieldset>
            <Show when=move || { count() > 0 && !draft.with(|m| desk.settings.with_value(|s| s.commit_rule).satisfied(m)) }>
                <p class="panel__rule">{rule_hint}</p>
            </Show>
            <Show when=move || { count() > 0 && !draft.with(|m| desk.settings.with_value(|s| s.consent_rule).satisfied(m)) }>
                <p class="panel__rule">{ConsentRule::HINT}</p>
            </Show>
            <button
                class="button button--block"
                disabled=move || count() == 0 || locked()
                on:click=move |_| desk.apply_metadata(draft.get_untracked())
            >
                {move || match count() {
                    0 | 1 => "Save details".to_owned(),
                    n => format!("Apply to {n} selected"),
                }}
            </button>
        </section>
    }
}

const VIEWS: [(ImageView, &str); 4] = [
    (ImageView::CloseUp, "Close-up"),
    (ImageView::Dermoscopy, "Dermoscopy"),
    (ImageView::Overview, "Overview"),
    (ImageView::Other, "Other"),
];

const KINDS: [(ImageKind, &str); 5] = [
    (ImageKind::Lesion, "Lesion"),
    (ImageKind::Rash, "Rash"),
    (ImageKind::Wound, "Wound"),
    (ImageKind::Infection, "Infection"),
    (ImageKind::Other, "Other"),
];

/// A [`ChoiceSelect`] over one field of the draft.
fn draft_choice<T: Copy + PartialEq + Send + Sync + 'static>(
    label: &'static str,
    choices: &'static [(T, &'static str)],
    draft: RwSignal<ImageMetadata>,
    disabled: Signal<bool>,
    get: fn(&ImageMetadata) -> Option<T>,
    set: fn(&mut ImageMetadata, Option<T>),
) -> impl IntoView {
    view! {
        <ChoiceSelect
            label
            choices
            current=Signal::derive(move || draft.with(get))
            disabled
            on_pick=move |v| draft.update(|m| set(m, v))
        />
    }
}

/// A labelled `<select>` over a fixed list of choices, with "—" for none.
/// Options are keyed by position, so no value needs a string form.
#[component]
fn ChoiceSelect<T: Copy + PartialEq + Send + Sync + 'static>(
    label: &'static str,
    choices: &'static [(T, &'static str)],
    current: Signal<Option<T>>,
    disabled: Signal<bool>,
    on_pick: impl Fn(Option<T>) + 'static,
) -> impl IntoView {
    let position = move || current.get().and_then(|c| choices.iter().position(|(v, _)| *v == c));
    view! {
        <label class="panel__field">
            {label}
            <select
                disabled=move || disabled.get()
                on:change=move |e| {
                    let picked = event_target_value(&e).parse::<usize>().ok().and_then(|i| choices.get(i));
                    on_pick(picked.map(|(v, _)| *v));
                }
            >
                <option value="" selected=move || position().is_none()>"—"</option>
                {choices
                    .iter()
                    .enumerate()
                    .map(|(i, (_, name))| {
                        view! { <option value=i.to_string() selected=move || position() == Some(i)>{*name}</option> }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

/// The phone hand-off: QR code, its URL, a live countdown and Regenerate.
#[component]
pub fn QrPanel(desk: Desk) -> impl IntoView {
    let grant = RwSignal::new(None::<MobileGrant>);
    let error = RwSignal::new(None::<String>);
    let now = RwSignal::new(0.0);
    Effect::new(move |_| now.set(js_sys::Date::now()));
    let regenerate = move || {
        leptos::task::spawn_local(async move {
            match create_mobile_token().await {
                Ok(g) => {
                    grant.set(Some(g));
                    error.set(None);
                }
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };
    Effect::new(move |_| regenerate());
    let tick =
        set_interval_with_handle(move || now.set(js_sys::Date::now()), std::time::Duration::from_secs(1))
            .ok();
    on_cleanup(move || {
        if let Some(t) = tick {
            t.clear();
        }
    });
    let remaining = move || {
        grant.with(|g| {
            g.as_ref().map(|g| ((js_sys::Date::parse(&g.expires_at) - now.get()) / 1000.0).max(0.0) as u64)
        })
    };

    view! {
        <section class="panel panel--qr" aria-labelledby="qr-heading">
            <h2 id="qr-heading">"Phone"</h2>
            <p class="muted">"Scan with the phone's camera. Photos appear here as they arrive."</p>
            {move || error.get().map(|e| view! { <p class="notice notice--error" role="alert">{e}</p> })}
            {move || {
                grant.get().map(|g| {
                    view! {
                        <div class="qr" role="img" aria-label="QR code for the phone link" inner_html=g.qr_svg.clone()></div>
                        <p class="qr__url"><code>{g.mobile_url.clone()}</code></p>
                    }
                })
            }}
            <p class="qr__expiry" aria-live="off">
                {move || match remaining() {
                    None => "Creating a link…".to_owned(),
                    Some(0) => "This link has expired. Regenerate it.".to_owned(),
                    Some(s) => format!("Expires in {}:{:02}", s / 60, s % 60),
                }}
            </p>
            <p class="qr__phones" aria-live="polite">
                {move || match desk.phones.get() {
                    0 => "No phone has joined yet.".to_owned(),
                    1 => "1 phone joined.".to_owned(),
                    n => format!("{n} phones joined."),
                }}
            </p>
            <button class="button button--secondary" on:click=move |_| regenerate()>"Regenerate"</button>
            <p class="muted">"Regenerating cancels the old code; phones using it are asked to scan the new one."</p>
        </section>
    }
}
