//! The desktop's live session events, over `EventSource` (gloo-net's
//! stream API). The browser reconnects by itself and sends `Last-Event-ID`,
//! so the server replays what was missed; the page also refreshes its list
//! whenever the stream (re)opens.

use std::cell::Cell;
use std::rc::Rc;

use futures::StreamExt;
use gloo_net::eventsource::futures::EventSource;

use crate::model::SessionEvent;

/// Event names the server sends (see `SessionEvent::name`).
const NAMES: [&str; 6] =
    ["image-added", "image-updated", "image-removed", "token-revoked", "phone-joined", "session-expiring"];

/// An open stream; closing happens on drop.
pub struct Subscription {
    closed: Rc<Cell<bool>>,
    _source: EventSource,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // Set before the source closes, so the listening task ends.
        self.closed.set(true);
    }
}

/// Opens the stream. `on_event` gets each event; `on_connection` gets true
/// when the stream (re)opens and false when it drops (while the browser
/// reconnects, too: `error` is listened for as a plain event for that).
pub fn subscribe(
    url: &str,
    on_event: impl Fn(SessionEvent) + 'static,
    on_connection: impl Fn(bool) + 'static,
) -> Option<Subscription> {
    let mut source = EventSource::new(url).ok()?;
    let mut streams = Vec::new();
    for name in NAMES.iter().chain(&["open", "error"]) {
        streams.push(source.subscribe(*name).ok()?);
    }
    let closed = Rc::new(Cell::new(false));
    let done = closed.clone();
    leptos::task::spawn_local(async move {
        let mut all = futures::stream::select_all(streams);
        while let Some(item) = all.next().await {
            if done.get() {
                break;
            }
            match item {
                Ok((kind, _)) if kind == "open" => on_connection(true),
                Ok((kind, _)) if kind == "error" => on_connection(false),
                Ok((_, message)) => {
                    let Some(data) = message.data().as_string() else { continue };
                    if let Ok(event) = serde_json::from_str::<SessionEvent>(&data) {
                        on_event(event);
                    }
                }
                Err(_) => on_connection(false),
            }
        }
    });
    Some(Subscription { closed, _source: source })
}

#[cfg(test)]
mod tests {
    use super::NAMES;
    use crate::model::{ImageInfo, ImageMetadata, ImageSource, ImageStatus, SessionEvent};

    #[test]
    fn every_event_the_server_sends_is_listened_for() {
        let info = ImageInfo {
            image_id: "i".into(),
            source: ImageSource::Desktop,
            content_type: "image/jpeg".into(),
            bytes: 1,
            width: None,
            height: None,
            uploaded_at: String::new(),
            metadata: ImageMetadata::default(),
            status: ImageStatus::Uploaded,
            edited: false,
            preview_url: None,
            revision: String::new(),
        };
        for event in [
            SessionEvent::ImageAdded(info.clone()),
            SessionEvent::ImageUpdated(info),
            SessionEvent::ImageRemoved { image_id: "i".into() },
            SessionEvent::TokenRevoked,
            SessionEvent::PhoneJoined { phones: 1 },
            SessionEvent::SessionExpiring { expires_at: String::new() },
        ] {
            assert!(NAMES.contains(&event.name()), "{} is not listened for", event.name());
        }
        assert_eq!(NAMES.len(), 6, "a new event kind needs a test line here too");
    }
}
