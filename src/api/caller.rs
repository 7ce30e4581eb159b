//! The server-function client every endpoint uses: it adds the credential
//! of the page the call comes from, and only that page's.
//!
//! - The phone's page (`/medtech-images/mobile`) sends its token as
//!   `Authorization: Bearer`. The token lives in `sessionStorage`
//!   (`client::adopt_mobile_token` moves it there from the QR link), never
//!   in the URL after the first load, so it reaches neither history nor a
//!   Referer. Any other page removes it ([`forget_mobile_token`]) and never
//!   sends it, so a phone link opened in a tab can never act for a desktop
//!   page opened there later.
//! - A desktop page names the session it was opened for in
//!   [`SESSION_HEADER`] ([`bind_desktop_session`]); the server reads only
//!   that session's cookie. A second launch in another tab cannot re-point it.
//!
//! `client` uses `api`, never the other way round: this file reads the
//! token and the location itself.

use std::cell::RefCell;

use futures::{Sink, Stream};
use leptos::server_fn::client::browser::BrowserClient;
use leptos::server_fn::client::Client;
use leptos::server_fn::error::FromServerFnError;
use leptos::server_fn::request::browser::BrowserRequest;
use leptos::server_fn::response::browser::BrowserResponse;
use leptos::server_fn::Bytes;

use crate::model::SESSION_HEADER;

/// Where the phone keeps its token for the life of the tab.
pub const MOBILE_TOKEN_STORAGE_KEY: &str = "clinical-images.mobile-token";

/// The phone's page: the only one whose calls carry the token.
pub const MOBILE_PATH: &str = "/medtech-images/mobile";

thread_local! {
    /// The session this desktop page was opened for, once it is known.
    static DESKTOP_SESSION: RefCell<Option<String>> = const { RefCell::new(None) };
}

fn on_phone_page() -> bool {
    web_sys::window().and_then(|w| w.location().pathname().ok()).is_some_and(|p| p == MOBILE_PATH)
}

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window().and_then(|w| w.session_storage().ok().flatten())
}

/// The phone's token for this tab, if this is the phone's page and it has one.
pub fn stored_mobile_token() -> Option<String> {
    if !on_phone_page() {
        return None;
    }
    session_storage()?.get_item(MOBILE_TOKEN_STORAGE_KEY).ok().flatten().filter(|t| !t.is_empty())
}

/// Removes the phone's token from this tab unless this is the phone's page:
/// called by every page as it starts, so leaving the phone route clears it.
pub fn forget_mobile_token() {
    if !on_phone_page() {
        if let Some(storage) = session_storage() {
            let _ = storage.remove_item(MOBILE_TOKEN_STORAGE_KEY);
        }
    }
}

/// Binds this page to the desktop session it was opened for: every later
/// call names it. Only in the browser (the server renders many pages).
pub fn bind_desktop_session(name: &str) {
    DESKTOP_SESSION.with(|s| *s.borrow_mut() = Some(name.to_owned()));
}

fn desktop_session() -> Option<String> {
    DESKTOP_SESSION.with(|s| s.borrow().clone())
}

/// Adds the page's credential, then delegates to the default browser client.
pub struct CallerClient;

impl<E, IS, OS> Client<E, IS, OS> for CallerClient
where
    E: FromServerFnError,
    IS: FromServerFnError,
    OS: FromServerFnError,
{
    type Request = BrowserRequest;
    type Response = BrowserResponse;

    fn send(req: Self::Request) -> impl std::future::Future<Output = Result<Self::Response, E>> + Send {
        if let Some(token) = stored_mobile_token() {
            req.headers().append("Authorization", &format!("Bearer {token}"));
        } else if let Some(name) = desktop_session().filter(|_| !on_phone_page()) {
            req.headers().append(SESSION_HEADER, &name);
        }
        <BrowserClient as Client<E, IS, OS>>::send(req)
    }

    #[allow(clippy::type_complexity)]
    fn open_websocket(
        path: &str,
    ) -> impl std::future::Future<
        Output = Result<
            (impl Stream<Item = Result<Bytes, Bytes>> + Send + 'static, impl Sink<Bytes> + Send + 'static),
            E,
        >,
    > + Send {
        <BrowserClient as Client<E, IS, OS>>::open_websocket(path)
    }

    fn spawn(future: impl std::future::Future<Output = ()> + Send + 'static) {
        <BrowserClient as Client<E, IS, OS>>::spawn(future)
    }
}
