//! `rediss://`: the session store over TLS to Debian's `redis-server`, its
//! certificate checked against the practice's CA (`REDIS_TLS_CA_FILE`), and
//! refused when nothing the instance trusts signed it.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use clinical_images::server::config::{RedisTarget, ReplicaAcks};
use clinical_images::server::stores::redis_conn::RedisConn;
use clinical_images::server::stores::session_store::{RedisSessionStore, SessionStore};

use crate::common;

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl").args(args).current_dir(dir).stderr(Stdio::null()).status().unwrap();
    assert!(status.success(), "openssl {args:?}");
}

#[tokio::test]
async fn the_session_store_runs_over_tls_and_refuses_a_certificate_it_cannot_check() {
    let dir = std::env::temp_dir().join(common::unique("redis-tls"));
    std::fs::create_dir_all(&dir).unwrap();
    // A private CA, and the server's certificate for 127.0.0.1 signed by it.
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=practice-ca",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        &dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ],
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut redis = Command::new("redis-server")
        .args([
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--tls-auth-clients",
            "no",
        ])
        .args([
            "--tls-cert-file",
            "server.pem",
            "--tls-key-file",
            "server.key",
            "--tls-ca-cert-file",
            "ca.pem",
        ])
        .args(["--save", "", "--appendonly", "no"])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server");
    let acks = ReplicaAcks { replicas: 0, timeout: Duration::from_millis(1) };
    let url = format!("rediss://127.0.0.1:{port}/0");
    let trusted = RedisTarget::Url { url: url.clone().into(), ca_file: Some(dir.join("ca.pem")) };
    let mut conn = None;
    for _ in 0..50 {
        match RedisConn::connect(&trusted, acks).await {
            Ok(c) => {
                conn = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let store =
        RedisSessionStore::on(conn.expect("TLS, checked against the practice's CA"), common::unique("tls:"));
    store.ping().await.unwrap();
    assert!(store.try_claim("tls-check", "me", Duration::from_secs(5)).await.unwrap(), "a write over TLS");
    assert!(!store.try_claim("tls-check", "another", Duration::from_secs(5)).await.unwrap(), "and read back");

    // The system's store does not know the practice's CA: no connection.
    let untrusted = RedisTarget::Url { url: url.into(), ca_file: None };
    let refused = RedisConn::connect(&untrusted, acks).await.err().expect("an unknown issuer is refused");
    assert!(refused.to_string().to_ascii_lowercase().contains("certificate"), "{refused}");
    // Plain TCP to the TLS port gets no session store either.
    let plain = RedisConn::connect_url(&format!("redis://127.0.0.1:{port}/0")).await;
    assert!(plain.is_err(), "plain text to a TLS port");

    let _ = redis.kill();
    let _ = redis.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
