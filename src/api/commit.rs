//! `/api/medtech/attachments/commit`: file images in the patient's record.

use super::CallerClient;
use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::model::{ApiError, AuditEntry, CommitReport};

/// `POST /api/medtech/attachments/commit` (desktop session) `{imageIds?, revisions?}` → [`CommitReport`].
/// Without `imageIds`, commits every uploaded image not yet committed.
/// `revisions` (`{imageId: revision}`, as the commit dialog showed each
/// photo): a photo changed since, or not confirmed, is not filed.
#[server(prefix = "/api", endpoint = "medtech/attachments/commit", input = Json, client = CallerClient)]
pub async fn commit_images(
    #[server(rename = "imageIds")]
    #[server(default)]
    image_ids: Option<Vec<String>>,
    #[server(default)] revisions: Option<std::collections::HashMap<String, String>>,
) -> Result<CommitReport, ApiError> {
    use crate::server::{
        http::caller::{caller, Caller, Desktop},
        services::commit,
    };

    let Caller { state, access } = caller::<Desktop>().await?;
    commit::commit(&state, &access, image_ids, revisions).await
}

/// `POST /api/medtech/attachments/audit` (desktop cookie) `{}` → `[AuditEntry]`:
/// every filing attempt of this session, oldest first.
#[server(prefix = "/api", endpoint = "medtech/attachments/audit", input = Json, client = CallerClient)]
pub async fn session_audit() -> Result<Vec<AuditEntry>, ApiError> {
    use crate::server::{
        http::caller::{caller, Caller, Desktop},
        services::audit,
    };

    let Caller { state, access } = caller::<Desktop>().await?;
    audit::session_entries(&state, &access).await
}
