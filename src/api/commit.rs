//! `/api/medtech/attachments/commit`: file images in the patient's record.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::model::{ApiError, CommitReport};

/// `POST /api/medtech/attachments/commit` (desktop cookie) `{imageIds?}` → [`CommitReport`].
/// Without `imageIds`, commits every uploaded image not yet committed.
#[server(prefix = "/api", endpoint = "medtech/attachments/commit", input = Json)]
pub async fn commit_images(
    #[server(rename = "imageIds")]
    #[server(default)]
    image_ids: Option<Vec<String>>,
) -> Result<CommitReport, ApiError> {
    use crate::server::{auth, commit, state::AppState};

    let state = expect_context::<AppState>();
    let access = auth::any(&state, &auth::request_headers().await?).await?;
    commit::commit(&state, &access, image_ids).await
}
