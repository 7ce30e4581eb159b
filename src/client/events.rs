//! The desktop's live session events, over `EventSource`. The browser
//! reconnects by itself and sends `Last-Event-ID`, so the server replays what
//! was missed; the page also refreshes its list whenever the stream (re)opens.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{EventSource, MessageEvent};

use crate::model::SessionEvent;

/// Event names the server sends (see `SessionEvent::name`).
const NAMES: [&str; 6] =
    ["image-added", "image-updated", "image-removed", "token-revoked", "phone-joined", "session-expiring"];

/// An open stream; closing happens on drop.
pub struct Subscription {
    source: EventSource,
    _handlers: Vec<Closure<dyn FnMut(web_sys::Event)>>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.source.close();
    }
}

/// Opens the stream. `on_event` gets each event; `on_connection` gets true
/// when the stream (re)opens and false when it drops.
pub fn subscribe(
    url: &str,
    on_event: impl Fn(SessionEvent) + 'static,
    on_connection: impl Fn(bool) + 'static,
) -> Option<Subscription> {
    let source = EventSource::new(url).ok()?;
    let on_event = std::rc::Rc::new(on_event);
    let on_connection = std::rc::Rc::new(on_connection);
    let mut handlers = Vec::new();
    for name in NAMES {
        let on_event = on_event.clone();
        let handler = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
            let Some(data) = e.dyn_ref::<MessageEvent>().and_then(|m| m.data().as_string()) else { return };
            if let Ok(event) = serde_json::from_str::<SessionEvent>(&data) {
                on_event(event);
            }
        });
        let _ = source.add_event_listener_with_callback(name, handler.as_ref().unchecked_ref());
        handlers.push(handler);
    }
    for (name, up) in [("open", true), ("error", false)] {
        let on_connection = on_connection.clone();
        let handler = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| on_connection(up));
        let _ = source.add_event_listener_with_callback(name, handler.as_ref().unchecked_ref());
        handlers.push(handler);
    }
    Some(Subscription { source, _handlers: handlers })
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
