//! What the app does: the services the server functions and routes call.

pub mod audit; // the filing audit trail, and the `audit` command
pub mod auth; // credentials: the desktop cookie and the phone's bearer token
pub mod capture_sessions; // start, read and end a capture session
pub mod claims; // owned, renewable locks: one commit, edit or delete per image at a time
pub mod commit; // filing a session's photos into ALEX
pub mod earlier; // the patient's earlier photos from ALEX, with thumbnails
pub mod edits; // edited versions of a photo, and reverting them
pub mod images; // reserve, register, describe, list and delete photos
pub mod notify; // publishing session events
pub mod phone_links; // the QR code's link: issue, revoke, redeem
pub mod strip; // removing metadata (EXIF, XMP, text, trailers) before filing
pub mod sweep; // removing blobs no live record points to
pub mod upload_slots; // a photo's blob keys, and the upload slot a signed URL writes to
pub mod verify; // checking uploaded bytes before they are accepted
