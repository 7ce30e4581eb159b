//! Claims: named locks in the session store, each with an owner value (a
//! fencing token) so only its taker renews or releases it.
//!
//! A commit holds its image's claim for as long as it works, renewing it
//! ([`Claim::hold`]); if the claim cannot be renewed, the work is stopped
//! before the claim could lapse, so a second commit can never start on an
//! image the first may still be filing. Edits, reverts, metadata changes and
//! deletes take the same claim, so none lands while a commit reads, checks
//! and files the photo.

use std::future::Future;
use std::time::Duration;

use crate::model::ApiError;
use crate::server::app_state::AppState;
use crate::server::services::auth::Access;
use crate::server::stores::StoreError;
use crate::server::support::ids::random_token;

/// What a claim is for. Its store name is built here and nowhere else.
#[derive(Debug, Clone, Copy)]
pub enum ClaimName<'a> {
    /// One image of one session: commits, edits, deletes, a session's end.
    Image { session_key: &'a str, image_id: &'a str },
    /// One Evolution launch context (hashed): good for one launch.
    Launch { context_hash: &'a str },
    /// An open upload slot: held from presign until the slot is registered,
    /// refused or removed (or its URL expires).
    UploadSlot { upload_key: &'a str },
}

impl ClaimName<'_> {
    /// The name in the store.
    pub fn key(&self) -> String {
        match self {
            ClaimName::Image { session_key, image_id } => format!("commit:{session_key}:{image_id}"),
            ClaimName::Launch { context_hash } => format!("launch:{context_hash}"),
            ClaimName::UploadSlot { upload_key } => format!("upload-slot:{upload_key}"),
        }
    }
}

/// A claim this process holds.
#[derive(Debug)]
pub struct Claim {
    key: String,
    owner: String,
    ttl: Duration,
}

/// How a held piece of work ended.
pub enum Held<T> {
    /// It finished while the claim was held throughout.
    Done(T),
    /// The claim could not be renewed; the work was stopped before it
    /// could lapse.
    Lost,
}

impl Claim {
    /// Takes the claim for `ttl`, or `None` if another holds it.
    pub async fn take(
        state: &AppState,
        name: ClaimName<'_>,
        ttl: Duration,
    ) -> Result<Option<Claim>, StoreError> {
        let claim = Claim { key: name.key(), owner: random_token(), ttl };
        Ok(state.sessions.try_claim(&claim.key, &claim.owner, ttl).await?.then_some(claim))
    }

    /// Releases the claim if this process still holds it.
    pub async fn release(self, state: &AppState) -> Result<(), StoreError> {
        state.sessions.release(&self.key, &self.owner).await
    }

    /// Runs `work` under this claim, renewed while it runs, then releases
    /// it whatever `work` answered. A failed release is the answer only
    /// when `work` succeeded. A claim that could not be renewed stops
    /// `work` before it could lapse: `Unavailable`.
    pub async fn around<T, E: From<StoreError>>(
        self,
        state: &AppState,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        Claim::around_all(vec![self], state, work).await
    }

    /// Runs `work` under all of `claims`, renewed while it runs, then
    /// releases every one.
    pub async fn around_all<T, E: From<StoreError>>(
        claims: Vec<Claim>,
        state: &AppState,
        work: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let outcome = match hold_all(&claims, state, work).await {
            Held::Done(outcome) => outcome,
            Held::Lost => {
                Err(StoreError::Unavailable("a claim could not be renewed while its work ran".into()).into())
            }
        };
        let mut released = Ok(());
        for claim in claims {
            if let Err(e) = claim.release(state).await {
                released = Err(e);
            }
        }
        released?;
        outcome
    }

    /// Runs `work` while renewing the claim every third of its lifetime.
    /// If a renewal fails or finds the claim gone, `work` is dropped while
    /// the claim is still known to be held (before its last renewal plus
    /// its lifetime, less a margin), and [`Held::Lost`] returned.
    pub async fn hold<F: Future>(&self, state: &AppState, work: F) -> Held<F::Output> {
        hold_all(std::slice::from_ref(self), state, work).await
    }
}

/// [`Claim::hold`] for several claims at once: all are renewed together,
/// and losing any stops `work`.
async fn hold_all<F: Future>(claims: &[Claim], state: &AppState, work: F) -> Held<F::Output> {
    let Some(ttl) = claims.iter().map(|c| c.ttl).min() else {
        return Held::Done(work.await);
    };
    let every = (ttl / 3).max(Duration::from_millis(100));
    let margin = ttl / 4;
    let renewing = async {
        let mut held_until = tokio::time::Instant::now() + ttl;
        loop {
            tokio::time::sleep(every).await;
            let asked = tokio::time::Instant::now();
            let mut all_renewed = true;
            for claim in claims {
                match state.sessions.renew_claim(&claim.key, &claim.owner, claim.ttl).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::error!("a claim was lost while its work ran; the work is stopped");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "a claim could not be renewed");
                        all_renewed = false;
                    }
                }
            }
            if all_renewed {
                held_until = asked + ttl;
            } else if tokio::time::Instant::now() + every + margin >= held_until {
                tracing::error!("a claim could not be renewed in time; the work is stopped");
                return;
            }
        }
    };
    tokio::pin!(work);
    tokio::select! {
        out = &mut work => Held::Done(out),
        () = renewing => Held::Lost,
    }
}

/// Takes the claim a commit, an edit, a metadata change, a delete or the
/// end of a session takes on one image; `None` while another holds it.
pub async fn take_image_claim(
    state: &AppState,
    access: &Access,
    image_id: &str,
) -> Result<Option<Claim>, ApiError> {
    let name = ClaimName::Image { session_key: &access.session_key, image_id };
    Ok(Claim::take(state, name, state.config.alex.commit_claim_ttl).await?)
}

/// Runs `work` under the image's claim, released after; `busy` is the
/// answer while another holds it (a commit filing it, or another change).
/// `work` reads the record itself, so it reads it under the claim.
pub async fn with_image_claim<T>(
    state: &AppState,
    access: &Access,
    image_id: &str,
    busy: ApiError,
    work: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    match take_image_claim(state, access, image_id).await? {
        Some(claim) => claim.around(state, work).await,
        None => Err(busy),
    }
}
