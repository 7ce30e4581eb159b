//! Who may call a server function, decided in one place.
//!
//! Every server function starts with [`caller`], naming what it needs of
//! the request: `caller::<Desktop>()`, `caller::<DesktopOrPhone>()`, or
//! the bare headers for the two endpoints that establish a credential
//! (the page binding to its session, and the phone opening its link). It
//! gets back the app state and the resolved credential, whose type says
//! what was proven: a [`DesktopAccess`] cannot be made for a phone, so a
//! desktop-only service takes one and checks nothing itself.

use std::future::Future;

use axum::http::HeaderMap;
use leptos::prelude::expect_context;

use crate::model::ApiError;
use crate::server::app_state::AppState;
use crate::server::services::auth::{self, Access, DesktopAccess};

/// The state and the credential a server function runs with.
pub struct Caller<A> {
    pub state: AppState,
    pub access: A,
}

/// What an endpoint needs of its caller, and what resolving it yields.
pub trait Needs {
    type Access;

    fn resolve(
        state: &AppState,
        headers: HeaderMap,
    ) -> impl Future<Output = Result<Self::Access, ApiError>> + Send;
}

/// The GP's desktop page, by the session it names; a phone's link is
/// refused with 403.
pub enum Desktop {}

/// The desktop, or a phone by its link (what a phone may then do is the
/// service's business: a phone sees and sends only its own photos).
pub enum DesktopOrPhone {}

/// A phone, by its link; a desktop's credential is refused with 403.
pub enum Phone {}

/// No credential yet: the endpoint establishes one from the headers.
pub enum Headers {}

/// Anyone: facts about the instance that concern no session.
pub enum Anyone {}

impl Needs for Desktop {
    type Access = DesktopAccess;

    async fn resolve(state: &AppState, headers: HeaderMap) -> Result<DesktopAccess, ApiError> {
        auth::desktop_only(state, &headers).await
    }
}

impl Needs for DesktopOrPhone {
    type Access = Access;

    async fn resolve(state: &AppState, headers: HeaderMap) -> Result<Access, ApiError> {
        auth::any(state, &headers).await
    }
}

impl Needs for Phone {
    type Access = Access;

    async fn resolve(state: &AppState, headers: HeaderMap) -> Result<Access, ApiError> {
        if auth::mixed_credentials(state, &headers) {
            return Err(auth::mixed());
        }
        match auth::bearer(&headers) {
            Some(token) => auth::phone(state, token).await,
            None => Err(ApiError::Forbidden),
        }
    }
}

impl Needs for Headers {
    type Access = HeaderMap;

    async fn resolve(_: &AppState, headers: HeaderMap) -> Result<HeaderMap, ApiError> {
        Ok(headers)
    }
}

impl Needs for Anyone {
    type Access = ();

    async fn resolve(_: &AppState, _: HeaderMap) -> Result<(), ApiError> {
        Ok(())
    }
}

/// The current server function's state and caller, as the endpoint needs.
pub async fn caller<N: Needs>() -> Result<Caller<N::Access>, ApiError> {
    let state = expect_context::<AppState>();
    let headers = auth::request_headers().await?;
    let access = N::resolve(&state, headers).await?;
    Ok(Caller { state, access })
}
