//! Where desktop photos come from besides the file picker: dropped files and
//! folders, the clipboard, and the webcam.

use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    DataTransfer, File, FileSystemDirectoryEntry, FileSystemEntry, FileSystemFileEntry, HtmlCanvasElement,
    HtmlVideoElement, MediaStream, MediaStreamConstraints,
};

/// The entries of a drop, taken synchronously (the browser empties the
/// `DataTransfer` once the handler returns).
pub fn dropped_entries(data: &DataTransfer) -> (Vec<FileSystemEntry>, Vec<File>) {
    let items = data.items();
    let mut entries = Vec::new();
    let mut files = Vec::new();
    for i in 0..items.length() {
        let Some(item) = items.get(i) else { continue };
        match item.webkit_get_as_entry() {
            Ok(Some(entry)) => entries.push(entry),
            _ => files.extend(item.get_as_file().ok().flatten()),
        }
    }
    (entries, files)
}

async fn entry_file(entry: &FileSystemFileEntry) -> Option<File> {
    let promise =
        Promise::new(&mut |resolve, reject| entry.file_with_callback_and_callback(&resolve, &reject));
    JsFuture::from(promise).await.ok()?.dyn_into().ok()
}

/// Every file in the dropped entries, walking folders (depth-limited).
pub async fn files_in(entries: Vec<FileSystemEntry>) -> Vec<File> {
    let mut out = Vec::new();
    let mut stack: Vec<(FileSystemEntry, u8)> = entries.into_iter().map(|e| (e, 0)).collect();
    while let Some((entry, depth)) = stack.pop() {
        if entry.is_file() {
            if let Some(file) = entry_file(entry.unchecked_ref()).await {
                out.push(file);
            }
        } else if entry.is_directory() && depth < 8 {
            let reader = entry.unchecked_ref::<FileSystemDirectoryEntry>().create_reader();
            // readEntries returns batches until an empty one.
            loop {
                let promise = Promise::new(&mut |resolve, reject| {
                    let _ = reader.read_entries_with_callback_and_callback(&resolve, &reject);
                });
                let Ok(batch) = JsFuture::from(promise).await else { break };
                let batch: Array = batch.unchecked_into();
                if batch.length() == 0 {
                    break;
                }
                stack.extend(
                    batch.iter().filter_map(|e| e.dyn_into::<FileSystemEntry>().ok()).map(|e| (e, depth + 1)),
                );
            }
        }
    }
    out.sort_by_key(|f| f.name());
    out
}

/// The files in a paste event's clipboard data.
pub fn pasted_files(event: &web_sys::ClipboardEvent) -> Vec<File> {
    let Some(list) = event.clipboard_data().and_then(|d| d.files()) else { return Vec::new() };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

/// Cameras the browser offers: `(deviceId, label)`.
pub async fn cameras() -> Vec<(String, String)> {
    let Some(devices) = web_sys::window().and_then(|w| w.navigator().media_devices().ok()) else {
        return Vec::new();
    };
    let Ok(promise) = devices.enumerate_devices() else { return Vec::new() };
    let Ok(list) = JsFuture::from(promise).await else { return Vec::new() };
    let list: Array = list.unchecked_into();
    list.iter()
        .filter_map(|d| d.dyn_into::<web_sys::MediaDeviceInfo>().ok())
        .filter(|d| d.kind() == web_sys::MediaDeviceKind::Videoinput)
        .enumerate()
        .map(|(i, d)| {
            let label = d.label();
            (d.device_id(), if label.is_empty() { format!("Camera {}", i + 1) } else { label })
        })
        .collect()
}

/// Opens a camera (a given one, or the default) at up to 1920 px wide.
pub async fn open_camera(device_id: Option<&str>, rear: bool) -> Result<MediaStream, String> {
    let devices = web_sys::window()
        .and_then(|w| w.navigator().media_devices().ok())
        .ok_or("This browser cannot use a camera.")?;
    let video = js_sys::Object::new();
    let ideal = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&ideal, &"ideal".into(), &JsValue::from(1920));
    let _ = js_sys::Reflect::set(&video, &"width".into(), &ideal);
    if rear {
        // A phone's camera on the back, where it has one.
        let environment = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&environment, &"ideal".into(), &JsValue::from_str("environment"));
        let _ = js_sys::Reflect::set(&video, &"facingMode".into(), &environment);
    }
    if let Some(id) = device_id {
        let exact = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&exact, &"exact".into(), &JsValue::from_str(id));
        let _ = js_sys::Reflect::set(&video, &"deviceId".into(), &exact);
    }
    let constraints = MediaStreamConstraints::new();
    constraints.set_video(&video);
    let promise = devices
        .get_user_media_with_constraints(&constraints)
        .map_err(|_| "This browser cannot use a camera.".to_owned())?;
    let stream = JsFuture::from(promise).await.map_err(|e| {
        let name =
            js_sys::Reflect::get(&e, &"name".into()).ok().and_then(|n| n.as_string()).unwrap_or_default();
        match name.as_str() {
            "NotAllowedError" => "Camera access was refused. Allow the camera for this site and try again.",
            "NotFoundError" | "OverconstrainedError" => "No camera was found.",
            "NotReadableError" => "The camera is in use by another program.",
            _ => "The camera could not be started.",
        }
        .to_owned()
    })?;
    stream.dyn_into().map_err(|_| "The camera could not be started.".to_owned())
}

/// Stops every track of a stream (turns the camera light off).
pub fn close_camera(stream: &MediaStream) {
    for track in stream.get_tracks().iter() {
        if let Ok(track) = track.dyn_into::<web_sys::MediaStreamTrack>() {
            track.stop();
        }
    }
}

/// Grabs the video's current frame as a JPEG file (the pipeline does the rest).
pub async fn snapshot(video: &HtmlVideoElement) -> Option<File> {
    let (w, h) = (video.video_width(), video.video_height());
    if w == 0 || h == 0 {
        return None;
    }
    let document = web_sys::window()?.document()?;
    let canvas: HtmlCanvasElement = document.create_element("canvas").ok()?.dyn_into().ok()?;
    canvas.set_width(w);
    canvas.set_height(h);
    let ctx: web_sys::CanvasRenderingContext2d = canvas.get_context("2d").ok()??.dyn_into().ok()?;
    ctx.draw_image_with_html_video_element(video, 0.0, 0.0).ok()?;
    // toBlob, not a data: URL: the page's CSP rightly refuses to fetch data: URLs.
    let promise = Promise::new(&mut |resolve, _| {
        let _ =
            canvas.to_blob_with_type_and_encoder_options(&resolve, "image/jpeg", &JsValue::from_f64(0.95));
    });
    let blob = JsFuture::from(promise).await.ok().filter(|b| !b.is_null())?;
    let options = web_sys::FilePropertyBag::new();
    options.set_type("image/jpeg");
    let stamp = js_sys::Date::new_0().to_iso_string().as_string().unwrap_or_default().replace(':', "-");
    File::new_with_blob_sequence_and_options(&Array::of1(&blob), &format!("webcam-{stamp}.jpg"), &options)
        .ok()
}
