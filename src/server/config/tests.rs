//! The configuration's tests: every variable read, defaulted and refused.

use super::*;
use secrecy::ExposeSecret;
use std::collections::HashMap;

fn addr() -> SocketAddr {
    "0.0.0.0:3000".parse().unwrap()
}

fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::from_lookup(addr(), move |k| map.get(k).cloned())
}

#[test]
fn no_variables_means_fully_embedded() {
    let c = load(&[]).unwrap();
    assert!(matches!(c.sessions, SessionBackend::Memory));
    assert!(matches!(c.blobs, BlobBackend::LocalDisk { .. }));
    assert_eq!(c.alex.target, AlexTarget::Sandbox);
    assert!(c.dev_launch, "embedded mode allows the development launch");
    assert_eq!(c.public_base_url.as_str(), "http://127.0.0.1:3000/");
    assert_eq!(c.session.idle_ttl, Duration::from_secs(1800));
    assert_eq!(c.session.max_ttl, Duration::from_secs(7200));
}

#[test]
fn production_variables_select_external_backends() {
    let c = load(&[
        ("PUBLIC_BASE_URL", "https://images.example.nz"),
        ("REDIS_URL", "redis://:pw@cache:6379/0"),
        ("S3_BUCKET", "images"),
        ("S3_ENDPOINT", "http://s3.local:9000"),
        ("S3_FORCE_PATH_STYLE", "true"),
        ("AWS_ACCESS_KEY_ID", "AKIA"),
        ("AWS_SECRET_ACCESS_KEY", "shh"),
        ("ALEX_BASE_URL", "https://alexapiuat.medtechglobal.com/FHIR"),
        ("ALEX_TOKEN_URL", "https://login.microsoftonline.com/t/oauth2/v2.0/token"),
        ("ALEX_CLIENT_ID", "id"),
        ("ALEX_CLIENT_SECRET", "secret"),
        ("ALEX_SCOPE", "api://x/.default"),
        ("ALEX_FACILITY_ID", "F2N060-E"),
        ("ALEX_COMMIT_MODE", "scan"),
    ])
    .unwrap();
    assert!(matches!(c.sessions, SessionBackend::Redis { .. }));
    let BlobBackend::S3(s3) = &c.blobs else { panic!("expected S3") };
    assert!(s3.force_path_style);
    assert_eq!(s3.secret_access_key.expose_secret(), "shh");
    assert_eq!(c.alex.commit_mode, CommitMode::Scan);
    assert!(!c.dev_launch, "real ALEX turns the development launch off by default");
}

#[test]
fn errors_name_the_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("DEV_LAUNCH", "maybe")], "DEV_LAUNCH"),
        (&[("REDIS_URL", "localhost:6379")], "REDIS_URL"),
        (&[("S3_BUCKET", "b"), ("ALEX_SANDBOX", "true")], "AWS_ACCESS_KEY_ID"),
        (&[("ALEX_BASE_URL", "https://alex.example")], "ALEX_TOKEN_URL"),
        (&[("ALEX_COMMIT_MODE", "fax")], "ALEX_COMMIT_MODE"),
        (&[("ALEX_SCAN_FORMAT", "jpeg")], "ALEX_SCAN_FORMAT"),
        (&[("PUBLIC_BASE_URL", "ftp://x")], "PUBLIC_BASE_URL"),
        (&[("SESSION_IDLE_TTL_SECS", "0")], "SESSION_IDLE_TTL_SECS"),
        (&[("SESSION_IDLE_TTL_SECS", "9000")], "SESSION_IDLE_TTL_SECS"),
        (&[("LOG_FORMAT", "xml")], "LOG_FORMAT"),
        (&[("FRAME_ANCESTORS", "'self'; script-src *")], "FRAME_ANCESTORS"),
    ];
    for (vars, name) in cases {
        let err = load(vars).expect_err(name).to_string();
        assert!(err.contains(name), "{err:?} should name {name}");
    }
}

#[test]
fn redis_is_found_by_url_or_by_sentinel_but_not_both() {
    let sandbox = [("PUBLIC_BASE_URL", "https://images.example.nz"), ("ALEX_SANDBOX", "true")];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut vars = sandbox.to_vec();
        vars.extend_from_slice(extra);
        load(&vars)
    };
    let c = with(&[
        ("REDIS_SENTINELS", "10.0.0.1:26379, sentinel-b:26379,[::1]:26380"),
        ("REDIS_SENTINEL_SERVICE", "clinical-images"),
        ("REDIS_SENTINEL_PASSWORD", "sentinel-pw"),
        ("REDIS_PASSWORD", "data-pw"),
        ("REDIS_DB", "2"),
        ("REDIS_WAIT_REPLICAS", "1"),
        ("REDIS_WAIT_TIMEOUT_MS", "250"),
    ])
    .unwrap();
    let SessionBackend::Redis { target: RedisTarget::Sentinel(s), acks, .. } = &c.sessions else {
        panic!("expected Sentinel: {:?}", c.sessions)
    };
    assert_eq!(s.sentinels, ["10.0.0.1:26379", "sentinel-b:26379", "[::1]:26380"]);
    assert_eq!(s.service, "clinical-images");
    assert_eq!(
        s.sentinel_password.as_ref().map(|p| p.expose_secret().to_owned()).as_deref(),
        Some("sentinel-pw")
    );
    assert_eq!(s.password.as_ref().map(|p| p.expose_secret().to_owned()).as_deref(), Some("data-pw"));
    assert_eq!(s.db, 2);
    assert_eq!(*acks, ReplicaAcks { replicas: 1, timeout: Duration::from_millis(250) });
    let secrets = format!("{:?}", c.sessions);
    assert!(!secrets.contains("sentinel-pw") && !secrets.contains("data-pw"), "{secrets}");

    let c = with(&[("REDIS_URL", "redis://cache:6379/0")]).unwrap();
    let SessionBackend::Redis { target: RedisTarget::Url { ca_file: None, .. }, acks, .. } = &c.sessions
    else {
        panic!("expected a URL")
    };
    assert_eq!(acks.replicas, 0, "no replica is waited for unless asked");

    for (extra, var) in [
        (&[("REDIS_URL", "redis://a:6379"), ("REDIS_SENTINELS", "b:26379")][..], "REDIS_SENTINELS"),
        (&[("REDIS_SENTINELS", "b:26379")][..], "REDIS_SENTINEL_SERVICE"),
        (&[("REDIS_SENTINELS", "b"), ("REDIS_SENTINEL_SERVICE", "s")][..], "REDIS_SENTINELS"),
        (&[("REDIS_SENTINELS", ":26379"), ("REDIS_SENTINEL_SERVICE", "s")][..], "REDIS_SENTINELS"),
        (&[("REDIS_SENTINELS", "b:0"), ("REDIS_SENTINEL_SERVICE", "s")][..], "REDIS_SENTINELS"),
        (&[("REDIS_SENTINELS", " , "), ("REDIS_SENTINEL_SERVICE", "s")][..], "REDIS_SENTINELS"),
        (&[("REDIS_URL", "redis://a:6379"), ("REDIS_WAIT_REPLICAS", "one")][..], "REDIS_WAIT_REPLICAS"),
        (&[("REDIS_URL", "redis://a:6379"), ("REDIS_TLS_CA_FILE", "/ca.pem")][..], "REDIS_TLS_CA_FILE"),
    ] {
        let err = with(extra).expect_err(var).to_string();
        assert!(err.contains(var), "{err:?} should name {var}");
    }
}

fn remote_alex() -> Vec<(&'static str, &'static str)> {
    vec![
        ("PUBLIC_BASE_URL", "https://images.example.nz"),
        ("ALEX_BASE_URL", "https://alexapiuat.medtechglobal.com/FHIR"),
        ("ALEX_TOKEN_URL", "https://login.microsoftonline.com/t/oauth2/v2.0/token"),
        ("ALEX_CLIENT_ID", "id"),
        ("ALEX_CLIENT_SECRET", "secret"),
        ("ALEX_SCOPE", "api://x/.default"),
        ("ALEX_FACILITY_ID", "F2N060-E"),
    ]
}

#[test]
fn a_development_launch_is_refused_against_a_real_alex() {
    let mut vars = remote_alex();
    assert!(load(&vars).is_ok());
    vars.push(("DEV_LAUNCH", "true"));
    let err = load(&vars).expect_err("DEV_LAUNCH with ALEX_BASE_URL").to_string();
    assert!(err.contains("DEV_LAUNCH") && err.contains("ALEX_BASE_URL"), "{err}");
}

#[test]
fn stores_without_alex_need_an_explicit_sandbox() {
    let base = [("PUBLIC_BASE_URL", "https://images.example.nz"), ("REDIS_URL", "redis://cache:6379/0")];
    let err = load(&base).expect_err("Redis without ALEX").to_string();
    assert!(err.contains("ALEX_BASE_URL") && err.contains("ALEX_SANDBOX"), "{err}");
    let mut vars = base.to_vec();
    vars.push(("ALEX_SANDBOX", "true"));
    let c = load(&vars).unwrap();
    assert_eq!(c.alex.target, AlexTarget::Sandbox);
    let mut both = remote_alex();
    both.push(("ALEX_SANDBOX", "true"));
    assert!(load(&both).expect_err("sandbox and ALEX").to_string().contains("ALEX_SANDBOX"));
}

#[test]
fn alex_urls_must_be_https_except_to_loopback() {
    for var in ["ALEX_BASE_URL", "ALEX_TOKEN_URL"] {
        let mut vars = remote_alex();
        let plain =
            if var == "ALEX_BASE_URL" { "http://alex.example/FHIR" } else { "http://login.example/token" };
        vars.retain(|(k, _)| *k != var);
        vars.push((var, plain));
        let err = load(&vars).expect_err("plain http to another host");
        assert!(err.to_string().contains(var) && err.to_string().contains("https"), "{err}");
        for local in ["http://127.0.0.1:3100/x", "http://localhost:3100/x", "http://[::1]:3100/x"] {
            let mut vars = remote_alex();
            vars.retain(|(k, _)| *k != var);
            vars.push((var, local));
            assert!(load(&vars).is_ok(), "{var}={local}");
        }
    }
}

#[test]
fn deployments_must_name_their_public_origin() {
    let vars = [("REDIS_URL", "redis://cache:6379/0"), ("ALEX_SANDBOX", "true")];
    assert!(load(&vars).expect_err("no PUBLIC_BASE_URL").to_string().contains("PUBLIC_BASE_URL"));
    let c = load(&remote_alex()).unwrap();
    assert_eq!(c.cookie_name(), "__Host-ci_session");
    assert_eq!(load(&[]).unwrap().cookie_name(), "ci_session");
}

#[test]
fn the_pixel_bound_defaults_to_what_the_pipeline_makes() {
    let c = load(&[]).unwrap();
    assert!(c.uploads.max_pixels >= 2560 * 2560 && c.uploads.max_pixels < 2560 * 2560 * 2);
    let c = load(&[("PIPELINE_MAX_EDGE", "4096")]).unwrap();
    assert!(c.uploads.max_pixels >= 4096 * 4096);
    assert!(load(&[("UPLOAD_MAX_PIXELS", "10")]).is_err());
}

#[test]
fn secrets_do_not_appear_in_debug_output() {
    let c = load(&[("ALEX_CLIENT_SECRET", "hunter2-very-secret")]).unwrap();
    assert!(!format!("{c:?}").contains("hunter2"));
}

#[test]
fn the_ssim_floor_defaults_can_be_turned_off_and_is_bounded() {
    assert_eq!(load(&[]).unwrap().pipeline.ssim_floor, 0.991);
    assert_eq!(load(&[("PIPELINE_SSIM_FLOOR", "0.985")]).unwrap().pipeline.ssim_floor, 0.985);
    assert_eq!(load(&[("PIPELINE_SSIM_FLOOR", "0")]).unwrap().pipeline.ssim_floor, 0.0);
    for bad in ["1", "1.5", "0.5", "-0.99", "high", "NaN"] {
        let e = load(&[("PIPELINE_SSIM_FLOOR", bad)]).unwrap_err();
        assert!(e.to_string().contains("PIPELINE_SSIM_FLOOR"), "{bad}: {e}");
    }
}
