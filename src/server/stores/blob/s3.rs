//! S3 blob store: any S3-compatible endpoint, shared by every app instance.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, CorsConfiguration, CorsRule, ExpirationStatus, LifecycleExpiration,
    LifecycleRule, LifecycleRuleFilter,
};
use secrecy::ExposeSecret;

use super::{validate_key, BlobMeta, BlobStore, SignedRequest};
use crate::server::config::S3Config;
use crate::server::stores::StoreError;

/// Blobs in one bucket, under one key prefix.
#[derive(Clone)]
pub struct S3BlobStore {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

impl S3BlobStore {
    /// Builds the client from configuration. Makes no network call.
    pub fn new(config: &S3Config) -> Self {
        let credentials = Credentials::new(
            config.access_key_id.clone(),
            config.secret_access_key.expose_secret().to_owned(),
            None,
            None,
            "clinical-images-config",
        );
        let mut builder = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(config.region.clone()))
            .credentials_provider(credentials)
            .force_path_style(config.force_path_style)
            // S3-compatible servers vary in their support for the newer
            // default checksums; only send them where S3 requires one.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint.as_str().trim_end_matches('/'));
        }
        Self {
            client: aws_sdk_s3::Client::from_conf(builder.build()),
            bucket: config.bucket.clone(),
            prefix: config.key_prefix.clone(),
        }
    }

    /// The SDK client, for start-up tasks such as bucket creation in tests.
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Creates the bucket if it does not exist (development and test set-ups).
    pub async fn ensure_bucket(&self) -> Result<(), StoreError> {
        if self.ping().await.is_ok() {
            return Ok(());
        }
        self.client.create_bucket().bucket(&self.bucket).send().await.map(|_| ()).map_err(sdk_error)
    }

    /// Lets browsers on `origin` PUT and GET directly (CORS), and expires
    /// anything left under our prefix after a day (a backstop to the deletes
    /// after commit and the session TTL sweep).
    pub async fn configure_bucket(&self, origin: &str) -> Result<(), StoreError> {
        let invalid = |e: aws_sdk_s3::error::BuildError| StoreError::Unavailable(e.to_string());
        let rule = CorsRule::builder()
            .allowed_origins(origin)
            .allowed_methods("PUT")
            .allowed_methods("GET")
            .allowed_methods("HEAD")
            .allowed_headers("*")
            .expose_headers("ETag")
            .max_age_seconds(600)
            .build()
            .map_err(invalid)?;
        self.client
            .put_bucket_cors()
            .bucket(&self.bucket)
            .cors_configuration(CorsConfiguration::builder().cors_rules(rule).build().map_err(invalid)?)
            .send()
            .await
            .map_err(sdk_error)?;
        let expire = LifecycleRule::builder()
            .id("clinical-images-expire-uploads")
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix(&self.prefix).build())
            .expiration(LifecycleExpiration::builder().days(1).build())
            .build()
            .map_err(invalid)?;
        self.client
            .put_bucket_lifecycle_configuration()
            .bucket(&self.bucket)
            .lifecycle_configuration(
                BucketLifecycleConfiguration::builder().rules(expire).build().map_err(invalid)?,
            )
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    fn key(&self, key: &str) -> Result<String, StoreError> {
        validate_key(key)?;
        Ok(format!("{}{key}", self.prefix))
    }
}

fn sdk_error<E: std::error::Error + 'static, R: std::fmt::Debug>(e: SdkError<E, R>) -> StoreError {
    crate::server::stores::count_error("s3");
    StoreError::Unavailable(DisplayErrorContext(e).to_string())
}

fn is_not_found<E>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> bool {
    matches!(e, SdkError::ServiceError(se) if se.raw().status().as_u16() == 404)
}

#[async_trait]
impl BlobStore for S3BlobStore {
    fn backend(&self) -> &'static str {
        "s3"
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.client.head_bucket().bucket(&self.bucket).send().await.map(|_| ()).map_err(sdk_error)
    }

    async fn put(&self, key: &str, content_type: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map(|_| ())
            .map_err(sdk_error)
    }

    async fn get(&self, key: &str) -> Result<Option<(BlobMeta, Vec<u8>)>, StoreError> {
        let out = match self.client.get_object().bucket(&self.bucket).key(self.key(key)?).send().await {
            Ok(out) => out,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(sdk_error(e)),
        };
        let content_type = out.content_type().unwrap_or_default().to_owned();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Unavailable(e.to_string()))?
            .into_bytes()
            .to_vec();
        Ok(Some((BlobMeta { size: bytes.len() as u64, content_type }, bytes)))
    }

    async fn head(&self, key: &str) -> Result<Option<BlobMeta>, StoreError> {
        match self.client.head_object().bucket(&self.bucket).key(self.key(key)?).send().await {
            Ok(out) => Ok(Some(BlobMeta {
                size: out.content_length().unwrap_or(0).max(0) as u64,
                content_type: out.content_type().unwrap_or_default().to_owned(),
            })),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(sdk_error(e)),
        }
    }

    async fn list(&self, dir: &str) -> Result<Vec<String>, StoreError> {
        let prefix = format!("{}/", self.key(dir)?);
        let mut keys = Vec::new();
        let mut pages =
            self.client.list_objects_v2().bucket(&self.bucket).prefix(&prefix).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(sdk_error)?;
            for object in page.contents() {
                if let Some(key) = object.key().and_then(|k| k.strip_prefix(&self.prefix)) {
                    keys.push(key.to_owned());
                }
            }
        }
        Ok(keys)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .send()
            .await
            .map(|_| ())
            .map_err(sdk_error)
    }

    async fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        size: u64,
        ttl: Duration,
    ) -> Result<SignedRequest, StoreError> {
        let config = PresigningConfig::expires_in(ttl).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        // Type and length are set before signing, so S3 refuses any other.
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .content_type(content_type)
            .content_length(i64::try_from(size).unwrap_or(i64::MAX))
            .presigned(config)
            .await
            .map_err(sdk_error)?;
        Ok(SignedRequest {
            url: request.uri().to_owned(),
            method: request.method().to_owned(),
            headers: request.headers().map(|(k, v)| (k.to_owned(), v.to_owned())).collect(),
        })
    }

    async fn presign_get(&self, key: &str, ttl: Duration) -> Result<String, StoreError> {
        let config = PresigningConfig::expires_in(ttl).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            // Previews are patient data: the browser must not keep them.
            .response_cache_control("private, no-store")
            .presigned(config)
            .await
            .map_err(sdk_error)?;
        Ok(request.uri().to_owned())
    }
}
