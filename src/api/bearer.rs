//! A server-function client that sends the phone's token as `Authorization: Bearer`.
//!
//! The token lives in `sessionStorage` (`client::adopt_mobile_token` moves it
//! there from the QR link), never in the URL after the first load, so it
//! reaches neither history nor a Referer. `client` uses `api`, never the
//! other way round: this file reads the token itself.

use futures::{Sink, Stream};
use leptos::server_fn::client::browser::BrowserClient;
use leptos::server_fn::client::Client;
use leptos::server_fn::error::FromServerFnError;
use leptos::server_fn::request::browser::BrowserRequest;
use leptos::server_fn::response::browser::BrowserResponse;
use leptos::server_fn::Bytes;

/// Where the phone keeps its token for the life of the tab.
pub const MOBILE_TOKEN_STORAGE_KEY: &str = "clinical-images.mobile-token";

/// The phone's token for this tab, if it has one.
pub fn stored_mobile_token() -> Option<String> {
    web_sys::window()
        .and_then(|w| w.session_storage().ok().flatten())?
        .get_item(MOBILE_TOKEN_STORAGE_KEY)
        .ok()
        .flatten()
        .filter(|t| !t.is_empty())
}

/// Adds the bearer token, then delegates to the default browser client.
pub struct BearerClient;

impl<E, IS, OS> Client<E, IS, OS> for BearerClient
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
