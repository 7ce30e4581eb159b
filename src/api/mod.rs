//! Server functions: the JSON API the pages call.
//!
//! Each has a stable endpoint under `/api/...` (listed in the README's API
//! table), takes and returns JSON, and stays thin: check the credential, call
//! a service in `server`, map the error. Every one goes through
//! [`CallerClient`], which adds the calling page's own credential. Bodies exist only in the `ssr`
//! build; the `hydrate` build gets a fetch stub of the same signature.

mod caller;
mod commit;
mod desktop_session;
mod earlier;
mod images;
mod info;
mod mobile;

pub use self::caller::{
    bind_desktop_session, forget_mobile_token, stored_mobile_token, CallerClient, MOBILE_PATH,
    MOBILE_TOKEN_STORAGE_KEY,
};
pub use self::commit::{commit_images, session_audit, CommitImages, SessionAudit};
pub use self::desktop_session::{current_session, end_session, CurrentSession, EndSession};
pub use self::earlier::{
    earlier_photos, open_earlier_photo, request_retake, retake_guide, EarlierPhotos, OpenEarlierPhoto,
    RequestRetake, RetakeGuideCall,
};
pub use self::images::{
    cancel_upload, delete_image, list_images, presign_upload, register_image, replace_image_version,
    revert_image_version, update_image_metadata, CancelUpload, DeleteImage, ListImages, PresignUpload,
    RegisterImage, ReplaceImageVersion, RevertImageVersion, UpdateImageMetadata,
};
pub use self::info::{app_info, service_status, AppInfo, AppInfoCall, ServiceStatus};
pub use self::mobile::{create_mobile_token, validate_mobile_token, CreateMobileToken, ValidateMobileToken};
