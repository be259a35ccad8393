//! Getting every blob of an image into the destination repository with the least work: a HEAD
//! first (already there → skipped), then a cross-repository mount when the blob is known
//! elsewhere in the registry (falling back silently), and only then an upload — a monolithic
//! `PUT` whose body streams from disk (or from the source registry) in bounded chunks, hashed on
//! the way so a corrupt source can never be committed under a digest it does not match.
//! A failed upload restarts from a fresh session with jittered backoff. Blobs go in parallel,
//! at most `--jobs` at a time, largest first.

use std::io;
use std::io::{Seek, SeekFrom};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

use crate::image::{Blob, BlobLocation};
use crate::registry_client::{
    ErrorClass, MountResult, RegistryClient, RegistryError, Res, backoff, short,
};

/// Read size for streamed uploads (1 MiB): large enough for throughput, small enough that `--jobs`
/// uploads in flight stay far below the memory goal.
const CHUNK: usize = 1024 * 1024;
/// At most this many mount sources are tried per blob before uploading.
const MAX_MOUNT_TRIES: usize = 3;

/// What happened to one blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobResult {
    Skipped,
    Mounted,
    Pushed,
}

/// Counters for the outputs and the summary.
#[derive(Debug, Default)]
pub struct Stats {
    pub pushed: AtomicU64,
    pub skipped: AtomicU64,
    pub mounted: AtomicU64,
    pub bytes_uploaded: AtomicU64,
    /// Bytes streamed so far, finished or not (for progress on large layers).
    pub bytes_sent: Arc<AtomicU64>,
}

impl Stats {
    pub fn get(&self) -> (u64, u64, u64, u64) {
        (
            self.pushed.load(Ordering::Relaxed),
            self.skipped.load(Ordering::Relaxed),
            self.mounted.load(Ordering::Relaxed),
            self.bytes_uploaded.load(Ordering::Relaxed),
        )
    }
}

/// The registry-to-registry source of blobs.
pub struct RegistrySource<'a> {
    pub client: &'a RegistryClient,
    pub repo: &'a str,
}

pub struct Uploader<'a> {
    pub dest: &'a RegistryClient,
    pub repo: &'a str,
    pub source: Option<RegistrySource<'a>>,
    /// Repositories in the destination registry that may hold any blob (`--mount-from`, a
    /// same-registry source), tried after `known`.
    pub mount_from: Vec<String>,
    /// Repositories seen holding a particular blob (the blob cache), most recent first.
    pub known: std::collections::HashMap<String, Vec<String>>,
    pub jobs: usize,
    pub stats: Stats,
    pub progress: Box<dyn Fn(&str) + Send + Sync + 'a>,
}

impl Uploader<'_> {
    /// Make every blob present in the destination repository; returns what happened to each.
    pub async fn upload_missing_blobs(&self, blobs: &[Blob]) -> Res<Vec<(String, BlobResult)>> {
        let mut order: Vec<Blob> = blobs.to_vec();
        order.sort_by_key(|b| std::cmp::Reverse(b.size));
        let total = order.len();
        let done = &AtomicU64::new(0);
        let all_bytes = order.iter().fold(0u64, |n, b| n.saturating_add(b.size));
        let transfer = futures_util::stream::iter(order)
            .map(move |b: Blob| async move {
                let r = self.push_blob(&b).await?;
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                let mib = self.stats.bytes_uploaded.load(Ordering::Relaxed) as f64 / 1048576.0;
                (self.progress)(&format!("blobs {n}/{total} done, {mib:.1} MiB uploaded"));
                Ok::<_, RegistryError>((b.digest.clone(), r))
            })
            .buffer_unordered(self.jobs.max(1))
            .try_collect();
        // A large layer takes a while: report bytes streamed every few seconds meanwhile.
        let mut transfer = std::pin::pin!(transfer);
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(3));
        tick.tick().await;
        loop {
            tokio::select! {
                r = &mut transfer => return r,
                _ = tick.tick() => {
                    let sent = self.stats.bytes_sent.load(Ordering::Relaxed) as f64 / 1048576.0;
                    let n = done.load(Ordering::Relaxed);
                    (self.progress)(&format!(
                        "blobs {n}/{total} done, {sent:.1} of at most {:.1} MiB streamed",
                        all_bytes as f64 / 1048576.0
                    ));
                }
            }
        }
    }

    async fn push_blob(&self, blob: &Blob) -> Res<BlobResult> {
        if let Some(size) = self.dest.blob_size(self.repo, &blob.digest).await? {
            if size != blob.size && size != 0 {
                return Err(RegistryError::new(
                    ErrorClass::Permanent,
                    format!(
                        "the registry holds blob {} with {size} bytes, the manifest says {}",
                        blob.digest, blob.size
                    ),
                ));
            }
            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
            return Ok(BlobResult::Skipped);
        }
        let mut candidates: Vec<&String> =
            self.known.get(&blob.digest).into_iter().flatten().collect();
        for r in &self.mount_from {
            if !candidates.contains(&r) {
                candidates.push(r);
            }
        }
        let mut session = None;
        for from in candidates
            .into_iter()
            .filter(|r| *r != self.repo)
            .take(MAX_MOUNT_TRIES)
        {
            match self.dest.mount_blob(self.repo, &blob.digest, from).await {
                Ok(MountResult::Mounted) => {
                    self.stats.mounted.fetch_add(1, Ordering::Relaxed);
                    return Ok(BlobResult::Mounted);
                }
                Ok(MountResult::Session(url)) => {
                    if session.is_none() {
                        session = Some(url);
                    } else {
                        self.dest.cancel_upload(self.repo, &url).await;
                    }
                }
                // A mount is only an optimisation: fall back to uploading.
                Err(e) if e.class == ErrorClass::Auth => return Err(e),
                Err(_) => {}
            }
        }
        let session = Mutex::new(session);
        dk_core::retry::retry(backoff(self.dest.attempts()), None, |_| {
            let reuse = session.lock().unwrap_or_else(|p| p.into_inner()).take();
            self.upload_once(blob, reuse)
        })
        .await?;
        self.stats.pushed.fetch_add(1, Ordering::Relaxed);
        self.stats
            .bytes_uploaded
            .fetch_add(blob.size, Ordering::Relaxed);
        Ok(BlobResult::Pushed)
    }

    /// One upload attempt: open (or reuse) a session, stream the blob in one PUT.
    async fn upload_once(&self, blob: &Blob, session: Option<reqwest::Url>) -> Res<()> {
        let session = match session {
            Some(s) => s,
            None => self.dest.start_upload(self.repo).await?,
        };
        let mismatch: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
        let result = match &blob.location {
            BlobLocation::File { path, offset } => {
                let make = || -> Res<reqwest::Body> {
                    let stream = file_stream(path, *offset, blob.size).map_err(|e| {
                        RegistryError::new(
                            ErrorClass::Permanent,
                            format!("cannot read {}: {e}", path.display()),
                        )
                    })?;
                    let sent = self.stats.bytes_sent.clone();
                    let stream = stream.inspect(move |r| {
                        if let Ok(b) = r {
                            sent.fetch_add(b.len() as u64, Ordering::Relaxed);
                        }
                    });
                    Ok(reqwest::Body::wrap_stream(verified(
                        stream,
                        blob.digest.clone(),
                        blob.size,
                        mismatch.clone(),
                    )))
                };
                self.dest
                    .put_blob(self.repo, &session, &blob.digest, blob.size, make)
                    .await
            }
            BlobLocation::Registry => {
                let src = self.source.as_ref().ok_or_else(|| {
                    RegistryError::new(ErrorClass::Permanent, "no source registry")
                })?;
                let resp = src.client.get_blob(src.repo, &blob.digest).await?;
                let sent = self.stats.bytes_sent.clone();
                let stream = resp.bytes_stream().map(move |r| {
                    let b = r.map_err(io::Error::other)?;
                    sent.fetch_add(b.len() as u64, Ordering::Relaxed);
                    Ok(b)
                });
                let body = Mutex::new(Some(reqwest::Body::wrap_stream(verified(
                    stream,
                    blob.digest.clone(),
                    blob.size,
                    mismatch.clone(),
                ))));
                let make = || -> Res<reqwest::Body> {
                    body.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .take()
                        .ok_or_else(|| {
                            RegistryError::new(
                                ErrorClass::Transient,
                                "the source stream was already used",
                            )
                        })
                };
                self.dest
                    .put_blob(self.repo, &session, &blob.digest, blob.size, make)
                    .await
            }
        };
        let actual = mismatch.lock().unwrap_or_else(|p| p.into_inner()).take();
        match (result, actual) {
            (_, Some(actual)) => {
                let (class, whose) = match blob.location {
                    BlobLocation::File { .. } => (ErrorClass::DigestMismatch, "the source"),
                    // A bad download is retried: the next attempt fetches it again.
                    BlobLocation::Registry => (ErrorClass::Transient, "the source registry's copy"),
                };
                Err(RegistryError::new(
                    class,
                    format!(
                        "digest mismatch: blob {} in {whose} hashes to {actual}",
                        blob.digest
                    ),
                ))
            }
            (Err(e), None)
                if e.message.contains("DIGEST_INVALID")
                    && matches!(blob.location, BlobLocation::File { .. }) =>
            {
                Err(RegistryError::new(
                    ErrorClass::DigestMismatch,
                    format!(
                        "digest mismatch: the registry rejected blob {}: {e}",
                        short(&blob.digest)
                    ),
                ))
            }
            (r, None) => r,
        }
    }

    /// Confirm every blob is in the repository with the right size before the manifest goes up.
    pub async fn verify_present(&self, blobs: &[Blob]) -> Res<()> {
        futures_util::stream::iter(blobs.to_vec())
            .map(move |b: Blob| async move {
                match self.dest.blob_size(self.repo, &b.digest).await? {
                    Some(s) if s == b.size || s == 0 => Ok(()),
                    Some(s) => Err(RegistryError::new(
                        ErrorClass::Permanent,
                        format!(
                            "blob {} is in {} with {s} bytes, expected {}",
                            b.digest, self.repo, b.size
                        ),
                    )),
                    None => Err(RegistryError::new(
                        ErrorClass::Permanent,
                        format!(
                            "blob {} is still missing from {} after the upload",
                            b.digest, self.repo
                        ),
                    )),
                }
            })
            .buffer_unordered(self.jobs.max(1) * 2)
            .try_collect::<Vec<()>>()
            .await
            .map(|_| ())
    }
}

/// A byte range of a file as a stream of bounded chunks.
fn file_stream(
    path: &std::path::Path,
    offset: u64,
    size: u64,
) -> io::Result<impl Stream<Item = io::Result<Bytes>> + Send + 'static> {
    let mut f = std::fs::File::open(path)?;
    if offset > 0 {
        f.seek(SeekFrom::Start(offset))?;
    }
    let f = tokio::fs::File::from_std(f).take(size);
    Ok(ReaderStream::with_capacity(f, CHUNK))
}

/// Pass a stream through, hashing it, and hold back the chunk that completes the blob until
/// the bytes are known to match `digest` and `size`. On a mismatch that chunk is never sent and
/// the stream fails instead, so the registry receives fewer bytes than the `Content-Length` it
/// was promised and cannot commit the upload — even a registry that checks no digests.
fn verified<S>(
    inner: S,
    digest: String,
    size: u64,
    mismatch: Arc<Mutex<Option<String>>>,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static
where
    S: Stream<Item = io::Result<Bytes>> + Send + 'static,
{
    struct Check<S> {
        inner: std::pin::Pin<Box<S>>,
        hasher: Sha256,
        n: u64,
        checked: bool,
        done: bool,
    }
    let start = Check {
        inner: Box::pin(inner),
        hasher: Sha256::new(),
        n: 0,
        checked: false,
        done: false,
    };
    let fail = move |hasher: &Sha256, n: u64| -> Option<io::Error> {
        let actual = format!("sha256:{}", hex::encode(hasher.clone().finalize()));
        if n == size && actual == digest {
            return None;
        }
        let what = if n == size {
            actual
        } else {
            format!("{actual} ({n} bytes, not {size})")
        };
        *mismatch.lock().unwrap_or_else(|p| p.into_inner()) = Some(what.clone());
        Some(io::Error::other(format!("blob {digest} hashes to {what}")))
    };
    futures_util::stream::unfold((start, fail), move |(mut st, fail)| async move {
        if st.done {
            return None;
        }
        let item = match st.inner.next().await {
            Some(Ok(b)) => {
                st.hasher.update(&b);
                st.n = st.n.saturating_add(b.len() as u64);
                // Past the end: the extra bytes are never sent (Content-Length is `size`).
                if st.checked && !b.is_empty() {
                    st.done = true;
                    Err(fail(&st.hasher, st.n)
                        .unwrap_or_else(|| io::Error::other("blob longer than announced")))
                } else if !st.checked && st.n >= size {
                    // The chunk that completes the blob goes out only when the whole matches.
                    st.checked = true;
                    match fail(&st.hasher, st.n) {
                        Some(e) => {
                            st.done = true;
                            Err(e)
                        }
                        None => Ok(b),
                    }
                } else {
                    Ok(b)
                }
            }
            Some(Err(e)) => {
                st.done = true;
                Err(e)
            }
            None => {
                st.done = true;
                match (st.checked, fail(&st.hasher, st.n)) {
                    (false, Some(e)) => Err(e),
                    _ => return None,
                }
            }
        };
        Some((item, (st, fail)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream whose bytes match passes through whole; a corrupt one ends in an error and
    /// records what it hashed to.
    #[tokio::test]
    async fn verified_stream_catches_corruption() {
        let data = Bytes::from_static(b"hello world");
        let digest = crate::manifest::sha256_digest(&data);
        let flag = Arc::new(Mutex::new(None));
        let ok: Vec<_> = verified(
            futures_util::stream::iter([Ok(data.clone())]),
            digest.clone(),
            11,
            flag.clone(),
        )
        .collect()
        .await;
        assert_eq!(ok.len(), 1);
        assert!(flag.lock().unwrap().is_none());
        let bad: Vec<_> = verified(
            futures_util::stream::iter([Ok(Bytes::from_static(b"hello wOrld"))]),
            digest,
            11,
            flag.clone(),
        )
        .collect()
        .await;
        assert!(bad.last().unwrap().is_err());
        assert!(flag.lock().unwrap().is_some());
    }

    /// Regression (issue 10): the last chunk went out before the hash was checked, so a registry
    /// that checks no digests had every byte and committed a corrupt blob. Now no byte of the
    /// chunk that completes a corrupt blob is yielded, whatever the chunking.
    #[tokio::test]
    async fn the_completing_chunk_of_a_corrupt_blob_is_never_sent() {
        let good = b"0123456789abcdef".to_vec();
        let digest = crate::manifest::sha256_digest(&good);
        let mut bad = good.clone();
        bad[15] = b'X';
        for split in [1, 4, 15, 16] {
            let chunks = |data: &[u8]| {
                data.chunks(split)
                    .map(|c| Ok(Bytes::copy_from_slice(c)))
                    .collect::<Vec<io::Result<Bytes>>>()
            };
            let sent = |items: Vec<io::Result<Bytes>>| -> (usize, bool) {
                let n = items
                    .iter()
                    .filter_map(|r| r.as_ref().ok())
                    .map(Bytes::len)
                    .sum();
                (n, items.last().is_some_and(|r| r.is_err()))
            };
            let flag = Arc::new(Mutex::new(None));
            let stream = |data: &[u8]| {
                let chunks = futures_util::stream::iter(chunks(data));
                verified(chunks, digest.clone(), 16, flag.clone()).collect::<Vec<_>>()
            };
            assert_eq!(sent(stream(&good).await), (16, false), "split {split}");
            let (n, failed) = sent(stream(&bad).await);
            assert!(n < 16 && failed, "split {split}: {n} bytes sent");
            // Too many bytes: the blob's own bytes may go, never the extra ones.
            let mut long = good.clone();
            long.extend_from_slice(b"more");
            let (n, failed) = sent(stream(&long).await);
            assert!(n <= 16 && failed, "split {split}: {n} bytes sent");
        }
    }
}
