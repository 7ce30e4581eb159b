//! The records' own rules: pick order, versions, what an older writer left.

use super::*;

fn record(hard: u64) -> SessionRecord {
    SessionRecord {
        patient_id: "p".into(),
        facility_id: "f".into(),
        provider_id: None,
        dev_launch: false,
        created_at: 0,
        hard_expires_at: hard,
        patient_name: None,
        nhi: None,
    }
}

#[test]
fn idle_ttl_is_capped_by_hard_expiry() {
    let idle = Duration::from_secs(1800);
    assert_eq!(record(10_000).ttl_from(1_000, idle), Some(idle));
    assert_eq!(record(1_060).ttl_from(1_000, idle), Some(Duration::from_secs(60)));
    assert_eq!(record(1_000).ttl_from(1_000, idle), None);
    assert_eq!(record(900).ttl_from(1_000, idle), None);
}

fn image(id: &str, uploader: Option<&str>, picked_ms: Option<u64>, created_ms: u64) -> ImageRecord {
    ImageRecord {
        image_id: id.into(),
        source: if uploader.is_some() { ImageSource::Mobile } else { ImageSource::Desktop },
        uploader: uploader.map(Into::into),
        content_type: "image/jpeg".into(),
        size: 1,
        width: None,
        height: None,
        created_at: created_ms / 1000,
        created_ms,
        picked_ms,
        uploaded_at: None,
        metadata: ImageMetadata::default(),
        status: ImageStatus::Uploaded,
        blob_key: format!("s/{id}"),
        captured_at: None,
        sha256: None,
        original: None,
        version: 0,
    }
}

#[test]
fn images_go_in_pick_order_per_device_and_by_server_time_across_devices() {
    let mut records = vec![
        // Phone A, clock 5 s behind the server: picked 1, 2, 3 within
        // 2 ms; 2 and 3 were reserved first, 1 (a slow HEIC) last.
        image("a2", Some("phone-a"), Some(100_001), 105_300),
        image("a3", Some("phone-a"), Some(100_002), 105_350),
        // Phone B, clock an hour ahead.
        image("b1", Some("phone-b"), Some(3_705_000), 105_400),
        image("a1", Some("phone-a"), Some(100_000), 106_200),
        // The desktop, picked 100 ms before its reservation.
        image("d1", None, Some(105_100), 105_200),
        // A record from before pick times: its reservation time.
        image("old", None, None, 104_000),
    ];
    in_pick_order(&mut records);
    let ids: Vec<&str> = records.iter().map(|r| r.image_id.as_str()).collect();
    assert_eq!(ids, ["old", "d1", "a1", "a2", "a3", "b1"]);
}

#[test]
fn without_pick_times_images_go_by_reservation_then_id() {
    let mut records =
        vec![image("c", None, None, 2), image("b", Some("p"), None, 1), image("a", None, None, 2)];
    in_pick_order(&mut records);
    let ids: Vec<&str> = records.iter().map(|r| r.image_id.as_str()).collect();
    assert_eq!(ids, ["b", "a", "c"]);
}
