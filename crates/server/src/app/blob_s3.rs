//! Evidence content on S3-compatible object storage (AWS S3, MinIO, Ceph,
//! Garage...), for deployments whose evidence outgrows a local disk or whose
//! replicas share one store. Objects are named `sha256/<hash>`.
//!
//! Ingest first goes through a local staging directory, where the content
//! is hashed in one pass while it is written (as with the local store); the
//! staged file is then uploaded under its hash (multipart above 16 MiB, in
//! parts read one at a time: memory stays flat) and removed. Requests are
//! signed with AWS Signature V4 by `rusty-s3` and sent with `reqwest`.
//!
//! The [`BlobStore`] methods block: the node calls them from blocking
//! threads, where they drive the async client on the node's runtime.

use std::io::{self, Read};
use std::path::Path;
use std::time::Duration;

use entraide_evidence::{BlobError, BlobStore, IngestOptions, Ingested, LocalBlobStore};
use rusty_s3::actions::{CreateMultipartUpload, ListObjectsV2};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use crate::app::config::S3Settings;

/// Parts of a multipart upload (S3 needs at least 5 MiB but the last).
const PART: usize = 16 * 1024 * 1024;
const SIGNED_FOR: Duration = Duration::from_secs(3600);

pub struct S3BlobStore {
    bucket: Bucket,
    credentials: Credentials,
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
    staging: LocalBlobStore,
    endpoint: String,
}

fn s3_err(what: &str, e: impl std::fmt::Display) -> BlobError {
    BlobError::Io(io::Error::other(format!("object storage, {what}: {e}")))
}

impl S3BlobStore {
    /// Needs to be created inside the node's async runtime.
    pub fn new(settings: &S3Settings, staging_dir: &Path) -> Result<Self, BlobError> {
        let endpoint = url::Url::parse(&settings.endpoint).map_err(|e| s3_err("endpoint", e))?;
        let style = if settings.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(
            endpoint,
            style,
            settings.bucket.clone(),
            settings.region.clone(),
        )
        .map_err(|e| s3_err("bucket", e))?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| s3_err("runtime", e))?;
        Ok(Self {
            bucket,
            credentials: Credentials::new(
                settings.access_key_id.clone(),
                settings.secret_access_key.clone(),
            ),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(600))
                .build()
                .map_err(|e| s3_err("client", e))?,
            runtime,
            staging: LocalBlobStore::open(staging_dir)?,
            endpoint: settings.endpoint.clone(),
        })
    }

    fn key(sha256: &str) -> Result<String, BlobError> {
        if sha256.len() == 64 && sha256.chars().all(|c| c.is_ascii_hexdigit()) {
            Ok(format!("sha256/{sha256}"))
        } else {
            Err(BlobError::BadHash(sha256.chars().take(80).collect()))
        }
    }

    fn send(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<reqwest::Response, BlobError> {
        self.runtime
            .block_on(req.send())
            .map_err(|e| s3_err(what, e))
    }

    fn check(res: reqwest::Response, what: &str) -> Result<reqwest::Response, BlobError> {
        if res.status().is_success() {
            Ok(res)
        } else {
            Err(s3_err(what, format!("status {}", res.status())))
        }
    }

    /// Uploads a staged file under its hash (unless already there) and
    /// removes the staged copy.
    fn upload_staged(&self, ingested: &Ingested) -> Result<(), BlobError> {
        let staged = self.staging.path(&ingested.sha256)?;
        let key = Self::key(&ingested.sha256)?;
        if !BlobStore::contains(self, &ingested.sha256)? {
            let mut file = std::fs::File::open(&staged)?;
            if ingested.size <= PART as u64 {
                let mut body = Vec::with_capacity(ingested.size as usize);
                file.read_to_end(&mut body)?;
                let url = self
                    .bucket
                    .put_object(Some(&self.credentials), &key)
                    .sign(SIGNED_FOR);
                let res = self.send(self.client.put(url).body(body), "upload")?;
                Self::check(res, "upload")?;
            } else {
                self.upload_multipart(&mut file, &key)?;
            }
        }
        self.staging.remove(&ingested.sha256)?;
        Ok(())
    }

    fn upload_multipart(&self, file: &mut std::fs::File, key: &str) -> Result<(), BlobError> {
        let url = self
            .bucket
            .create_multipart_upload(Some(&self.credentials), key)
            .sign(SIGNED_FOR);
        let res = Self::check(
            self.send(self.client.post(url), "multipart start")?,
            "multipart start",
        )?;
        let body = self
            .runtime
            .block_on(res.text())
            .map_err(|e| s3_err("multipart start", e))?;
        let created = CreateMultipartUpload::parse_response(&body)
            .map_err(|e| s3_err("multipart start", e))?;
        let upload_id = created.upload_id().to_owned();
        let result = (|| -> Result<Vec<String>, BlobError> {
            let mut etags = Vec::new();
            let mut part_number: u16 = 1;
            loop {
                let mut part = Vec::with_capacity(PART);
                file.by_ref().take(PART as u64).read_to_end(&mut part)?;
                if part.is_empty() {
                    break;
                }
                let url = self
                    .bucket
                    .upload_part(Some(&self.credentials), key, part_number, &upload_id)
                    .sign(SIGNED_FOR);
                let res = Self::check(self.send(self.client.put(url).body(part), "part")?, "part")?;
                let etag = res
                    .headers()
                    .get(reqwest::header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| s3_err("part", "no ETag"))?
                    .to_owned();
                etags.push(etag);
                part_number = part_number
                    .checked_add(1)
                    .ok_or_else(|| s3_err("part", "more than 65535 parts"))?;
            }
            Ok(etags)
        })();
        let etags = match result {
            Ok(e) => e,
            Err(e) => {
                let url = self
                    .bucket
                    .abort_multipart_upload(Some(&self.credentials), key, &upload_id)
                    .sign(SIGNED_FOR);
                let _ = self.send(self.client.delete(url), "multipart abort");
                return Err(e);
            }
        };
        let complete = self.bucket.complete_multipart_upload(
            Some(&self.credentials),
            key,
            &upload_id,
            etags.iter().map(String::as_str),
        );
        let url = complete.sign(SIGNED_FOR);
        let body = complete.body();
        Self::check(
            self.send(self.client.post(url).body(body), "multipart end")?,
            "multipart end",
        )?;
        Ok(())
    }
}

/// A blocking reader over an object being downloaded.
struct ObjectReader {
    runtime: tokio::runtime::Handle,
    response: reqwest::Response,
    current: bytes::Bytes,
}

impl Read for ObjectReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self
                .runtime
                .block_on(self.response.chunk())
                .map_err(io::Error::other)?
            {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

impl BlobStore for S3BlobStore {
    fn store_stream(
        &self,
        source: &mut dyn Read,
        options: &IngestOptions<'_>,
    ) -> Result<Ingested, BlobError> {
        let ingested = self.staging.ingest_with(source, options)?;
        self.upload_staged(&ingested)?;
        Ok(ingested)
    }

    fn store_file(&self, path: &Path, legacy_hashes: bool) -> Result<Ingested, BlobError> {
        let ingested = self.staging.adopt(path, legacy_hashes)?;
        self.upload_staged(&ingested)?;
        Ok(ingested)
    }

    fn store_moved(&self, path: &Path, options: &IngestOptions<'_>) -> Result<Ingested, BlobError> {
        let ingested = self.staging.ingest_by_move(path, options)?;
        self.upload_staged(&ingested)?;
        Ok(ingested)
    }

    fn open(&self, sha256: &str) -> Result<Option<Box<dyn Read + Send>>, BlobError> {
        let key = Self::key(sha256)?;
        let url = self
            .bucket
            .get_object(Some(&self.credentials), &key)
            .sign(SIGNED_FOR);
        let response = self.send(self.client.get(url), "download")?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let response = Self::check(response, "download")?;
        Ok(Some(Box::new(ObjectReader {
            runtime: self.runtime.clone(),
            response,
            current: bytes::Bytes::new(),
        })))
    }

    fn contains(&self, sha256: &str) -> Result<bool, BlobError> {
        let key = Self::key(sha256)?;
        let url = self
            .bucket
            .head_object(Some(&self.credentials), &key)
            .sign(SIGNED_FOR);
        let res = self.send(self.client.head(url), "lookup")?;
        match res.status() {
            s if s.is_success() => Ok(true),
            reqwest::StatusCode::NOT_FOUND => Ok(false),
            s => Err(s3_err("lookup", format!("status {s}"))),
        }
    }

    fn remove(&self, sha256: &str) -> Result<bool, BlobError> {
        if !BlobStore::contains(self, sha256)? {
            return Ok(false);
        }
        let key = Self::key(sha256)?;
        let url = self
            .bucket
            .delete_object(Some(&self.credentials), &key)
            .sign(SIGNED_FOR);
        Self::check(self.send(self.client.delete(url), "delete")?, "delete")?;
        Ok(true)
    }

    fn list(&self) -> Result<Vec<String>, BlobError> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut action = self.bucket.list_objects_v2(Some(&self.credentials));
            action.with_prefix("sha256/");
            if let Some(t) = &token {
                action.with_continuation_token(t.clone());
            }
            let url = action.sign(SIGNED_FOR);
            let res = Self::check(self.send(self.client.get(url), "list")?, "list")?;
            let body = self
                .runtime
                .block_on(res.text())
                .map_err(|e| s3_err("list", e))?;
            let parsed = ListObjectsV2::parse_response(&body).map_err(|e| s3_err("list", e))?;
            out.extend(
                parsed
                    .contents
                    .iter()
                    .filter_map(|c| c.key.strip_prefix("sha256/").map(str::to_owned)),
            );
            match parsed.next_continuation_token {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        out.sort();
        Ok(out)
    }

    fn describe(&self) -> String {
        format!("S3 bucket {} at {}", self.bucket.name(), self.endpoint)
    }
}
