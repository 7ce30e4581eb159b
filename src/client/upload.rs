//! Sending a finished image: presign → PUT (with byte progress, through
//! `XMLHttpRequest`, whose upload events report it) → register. Used by the
//! desktop and the phone alike. Raw XHR is deliberate: `fetch`, and so
//! gloo-net's requests, report no upload progress; the other calls go
//! through the server functions' own client.
//!
//! Retrying is safe: the ticket (and so the image id) is kept across
//! attempts, a PUT of the same bytes to the same URL is idempotent, and
//! registering an image twice returns the same image. A new ticket is asked
//! for only when the old one has expired, so a lost response never makes a
//! second copy on the desktop.
//!
//! The bytes can go ahead of the registration ([`Outgoing::upload_only`]):
//! the phone uploads while the GP reviews, into a slot the desktop does not
//! see, and "Send" then only registers it.

use futures::channel::oneshot;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Blob, ProgressEvent, XmlHttpRequest};

use crate::api::{presign_upload, register_image};
use crate::model::{
    ApiError, ImageInfo, ImageMetadata, TokenProblem, UploadProblem, UploadRequest, UploadTicket,
};
use crate::pipeline::exif::captured_parts;

/// Why a send failed, for the person sending.
#[derive(Debug, Clone, PartialEq)]
pub struct SendFailure {
    pub message: String,
    /// Trying again may work (network trouble, an expired link to the store).
    pub retryable: bool,
    /// The phone's link stopped working (expired, replaced by a new QR code).
    pub token_problem: Option<TokenProblem>,
}

impl From<ApiError> for SendFailure {
    fn from(e: ApiError) -> Self {
        // A phone's reservations all taken frees up as its other photos
        // register (or are removed): worth waiting for, like a busy server.
        let retryable = matches!(
            e,
            ApiError::Network
                | ApiError::Unavailable
                | ApiError::RateLimited
                | ApiError::Upload(UploadProblem::TooManyPending)
        );
        let token_problem = match e {
            ApiError::Token(p) => Some(p),
            _ => None,
        };
        SendFailure { message: e.to_string(), retryable, token_problem }
    }
}

fn network() -> SendFailure {
    ApiError::Network.into()
}

/// How a PUT ended.
enum Put {
    Done,
    /// The store refused the signature: the ticket expired. Ask for a new one.
    Expired,
    Failed(SendFailure),
}

/// PUTs `blob` to the ticket's URL, reporting the fraction of bytes sent.
async fn put(ticket: &UploadTicket, blob: &Blob, on_progress: &dyn Fn(f64)) -> Put {
    let Ok(xhr) = XmlHttpRequest::new() else { return Put::Failed(network()) };
    if xhr.open_with_async(&ticket.method, &ticket.upload_url, true).is_err() {
        return Put::Failed(network());
    }
    for (name, value) in &ticket.headers {
        // The browser sets these itself from the body (and refuses to be told).
        if !name.eq_ignore_ascii_case("content-length") && !name.eq_ignore_ascii_case("host") {
            let _ = xhr.set_request_header(name, value);
        }
    }
    let (done, finished) = oneshot::channel::<Option<u16>>();
    let done = std::rc::Rc::new(std::cell::RefCell::new(Some(done)));
    let finish = {
        let done = done.clone();
        move |status: Option<u16>| {
            if let Some(tx) = done.borrow_mut().take() {
                let _ = tx.send(status);
            }
        }
    };
    let on_load = {
        let xhr = xhr.clone();
        let finish = finish.clone();
        Closure::<dyn FnMut()>::new(move || finish(Some(xhr.status().unwrap_or(0))))
    };
    let on_fail = {
        let finish = finish.clone();
        Closure::<dyn FnMut()>::new(move || finish(None))
    };
    // Progress events go through a channel, so `on_progress` (borrowed) is
    // only ever called from this future.
    let (tx, mut rx) = futures::channel::mpsc::unbounded::<f64>();
    let on_progress_event = Closure::<dyn FnMut(ProgressEvent)>::new(move |e: ProgressEvent| {
        if e.length_computable() && e.total() > 0.0 {
            let _ = tx.unbounded_send(e.loaded() / e.total());
        }
    });
    xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
    xhr.set_onerror(Some(on_fail.as_ref().unchecked_ref()));
    xhr.set_ontimeout(Some(on_fail.as_ref().unchecked_ref()));
    xhr.set_onabort(Some(on_fail.as_ref().unchecked_ref()));
    if let Ok(upload) = xhr.upload() {
        upload.set_onprogress(Some(on_progress_event.as_ref().unchecked_ref()));
    }
    xhr.set_timeout(120_000);
    if xhr.send_with_opt_blob(Some(blob)).is_err() {
        return Put::Failed(network());
    }
    let mut finished = finished;
    let status = loop {
        use futures::{FutureExt, StreamExt};
        futures::select! {
            fraction = rx.next() => if let Some(f) = fraction { on_progress(f) },
            status = (&mut finished).fuse() => break status.ok().flatten(),
        }
    };
    // Keep the callbacks alive until the request ended.
    drop((on_load, on_fail, on_progress_event));
    match status {
        Some(200..=299) => {
            on_progress(1.0);
            Put::Done
        }
        Some(403) => Put::Expired,
        Some(0) | None => Put::Failed(network()),
        Some(500..=599) => Put::Failed(ApiError::Unavailable.into()),
        Some(_) => Put::Failed(SendFailure {
            message: "The photo store refused this photo. Take or choose it again.".into(),
            retryable: false,
            token_problem: None,
        }),
    }
}

/// Told of each new upload ticket.
type TicketObserver = Box<dyn Fn(&UploadTicket)>;

/// One image on its way: what to send, and the ticket once there is one.
pub struct Outgoing {
    pub blob: Blob,
    pub content_type: String,
    /// EXIF capture time as the pipeline read it (camera-local).
    pub captured: Option<String>,
    pub metadata: Option<ImageMetadata>,
    /// When the GP picked it ([`crate::client::pick_time`]).
    picked_at: Option<u64>,
    ticket: Option<UploadTicket>,
    /// The bytes are at the ticket's slot (uploaded ahead of registering).
    uploaded: bool,
    /// Told of each new ticket, before its PUT starts (the phone keeps it).
    on_ticket: Option<TicketObserver>,
}

impl Outgoing {
    pub fn new(
        blob: Blob,
        content_type: String,
        captured: Option<String>,
        metadata: Option<ImageMetadata>,
    ) -> Self {
        Self {
            blob,
            content_type,
            captured,
            metadata,
            picked_at: None,
            ticket: None,
            uploaded: false,
            on_ticket: None,
        }
    }

    /// Lists it in the session at its pick time, not at its upload's.
    pub fn picked_at(mut self, at: u64) -> Self {
        self.picked_at = Some(at);
        self
    }

    /// Carries on with a ticket from an earlier page (a restored queue),
    /// whose bytes that page may have uploaded already.
    pub fn with_ticket(mut self, ticket: Option<UploadTicket>, uploaded: bool) -> Self {
        self.uploaded = uploaded && ticket.is_some();
        self.ticket = ticket;
        self
    }

    /// Calls `f` with each new ticket, before the bytes go.
    pub fn on_ticket(mut self, f: impl Fn(&UploadTicket) + 'static) -> Self {
        self.on_ticket = Some(Box::new(f));
        self
    }

    /// The image id, once the server has given one.
    pub fn image_id(&self) -> Option<&str> {
        self.ticket.as_ref().map(|t| t.image_id.as_str())
    }

    /// One attempt: the bytes (unless already uploaded), then register.
    /// A slot that lapsed while it waited (a long review) is not there to
    /// register: the bytes go again, under a new ticket. Call again to retry.
    pub async fn attempt(&mut self, on_progress: &dyn Fn(f64)) -> Result<ImageInfo, SendFailure> {
        for _ in 0..2 {
            self.upload(on_progress).await?;
            let Some(ticket) = self.ticket.clone() else { return Err(network()) };
            let captured_at = self.captured.as_deref().and_then(local_time_as_rfc3339);
            match register_image(ticket.image_id, self.metadata.clone(), captured_at).await {
                Err(ApiError::NotFound) if self.uploaded => {
                    self.ticket = None;
                    self.uploaded = false;
                }
                registered => return Ok(registered?),
            }
        }
        Err(network())
    }

    /// The bytes, to the ticket's slot (presigning if need be), unless they
    /// are there already. Nothing is registered.
    async fn upload(&mut self, on_progress: &dyn Fn(f64)) -> Result<(), SendFailure> {
        if self.uploaded {
            on_progress(1.0);
            return Ok(());
        }
        for _ in 0..2 {
            let ticket = match &self.ticket {
                Some(t) => t.clone(),
                None => {
                    let request = UploadRequest {
                        content_type: self.content_type.clone(),
                        size: self.blob.size() as u64,
                        sha256: None,
                        picked_at: self.picked_at,
                    };
                    let t = presign_upload(request).await?;
                    if let Some(f) = &self.on_ticket {
                        f(&t);
                    }
                    self.ticket = Some(t.clone());
                    t
                }
            };
            match put(&ticket, &self.blob, on_progress).await {
                Put::Done => {
                    self.uploaded = true;
                    return Ok(());
                }
                Put::Expired => self.ticket = None,
                Put::Failed(f) => return Err(f),
            }
        }
        Err(network())
    }
}

/// What a send is waiting for, for the page to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// The device is offline; sending resumes by itself when it is back.
    Offline,
    /// A network failure; the next attempt starts in `seconds`.
    Retry { seconds: u32 },
}

/// Most attempts [`Outgoing::send`] makes before it gives up.
pub const AUTO_ATTEMPTS: u32 = 4;

impl Outgoing {
    /// Sends, pausing while offline (which costs no attempt) and retrying
    /// network failures after 2, 4 and 8 s. A refusal, or the last failure,
    /// is returned; calling again is safe (see [`Outgoing::attempt`]).
    pub async fn send(
        &mut self,
        on_progress: &dyn Fn(f64),
        on_wait: &dyn Fn(Waiting),
    ) -> Result<ImageInfo, SendFailure> {
        // With `register`, an outcome carries the image.
        self.retrying(true, on_progress, on_wait).await?.ok_or_else(network)
    }

    /// Uploads the bytes with the same pauses and retries as [`Self::send`],
    /// and does not register them: the desktop sees nothing yet.
    pub async fn upload_only(
        &mut self,
        on_progress: &dyn Fn(f64),
        on_wait: &dyn Fn(Waiting),
    ) -> Result<(), SendFailure> {
        self.retrying(false, on_progress, on_wait).await.map(|_| ())
    }

    async fn retrying(
        &mut self,
        register: bool,
        on_progress: &dyn Fn(f64),
        on_wait: &dyn Fn(Waiting),
    ) -> Result<Option<ImageInfo>, SendFailure> {
        let mut failures = 0;
        loop {
            if !online() {
                on_wait(Waiting::Offline);
                wait_online().await;
            }
            on_progress(0.0);
            let outcome = match register {
                true => self.attempt(on_progress).await.map(Some),
                false => self.upload(on_progress).await.map(|()| None),
            };
            match outcome {
                Ok(info) => return Ok(info),
                Err(f) if f.retryable && !online() => {}
                Err(f) if f.retryable && failures + 1 < AUTO_ATTEMPTS => {
                    failures += 1;
                    for seconds in (1..=1u32 << failures).rev() {
                        on_wait(Waiting::Retry { seconds });
                        sleep(1000).await;
                    }
                }
                Err(f) => return Err(f),
            }
        }
    }
}

/// An EXIF (camera-local) time as an RFC 3339 instant, in this device's time zone.
fn local_time_as_rfc3339(captured: &str) -> Option<String> {
    let [y, mo, d, h, mi, s] = captured_parts(captured)?;
    let date = js_sys::Date::new_with_year_month_day_hr_min_sec(
        y,
        mo as i32 - 1,
        d as i32,
        h as i32,
        mi as i32,
        s as i32,
    );
    date.get_time().is_finite().then(|| String::from(date.to_iso_string()))
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// Whether the browser believes it is online.
pub fn online() -> bool {
    web_sys::window().is_none_or(|w| w.navigator().on_line())
}

/// Resolves at once when online, else when the browser comes back online.
pub async fn wait_online() {
    while !online() {
        let promise = js_sys::Promise::new(&mut |resolve, _| {
            if let Some(w) = web_sys::window() {
                let options = web_sys::AddEventListenerOptions::new();
                options.set_once(true);
                let _ = w.add_event_listener_with_callback_and_add_event_listener_options(
                    "online", &resolve, &options,
                );
            }
        });
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
}
