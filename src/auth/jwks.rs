//! The identity provider's signing keys (a JWKS document).
//!
//! Read once from `jwks_file`, or fetched from `jwks_url` when a token names a key that
//! is not cached, and in the background once the cached set is older than
//! `refresh_secs`. Fetches are bounded in time (`fetch_timeout_ms`, connection included)
//! and in rate (at most one per `refetch_min_interval_ms`), so tokens naming made-up keys
//! cannot make flowgate hammer the provider, and a provider that does not answer cannot
//! hold requests. A failed fetch keeps the keys already cached.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use parking_lot::RwLock;

use crate::settings::JwtSettings;

/// Largest JWKS document read, in bytes.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// One verification key and the algorithms it may check.
pub(crate) struct Key {
    pub(crate) decoding: DecodingKey,
    algorithms: Vec<Algorithm>,
}

/// What a key lookup found.
pub(crate) enum Lookup {
    /// A key for this token.
    Found(Arc<Key>),
    /// The named key exists but is not a key of the token's algorithm.
    WrongAlgorithm,
    /// No such key.
    Missing,
}

/// Usable keys of one JWKS document.
#[derive(Default)]
pub(crate) struct KeySet {
    by_kid: HashMap<String, Arc<Key>>,
    unnamed: Vec<Arc<Key>>,
}

/// Algorithms a JWK may verify: by its type and curve, narrowed to its `alg` when it
/// names one. Symmetric (`oct`) keys and encryption keys give none.
fn algorithms_of(jwk: &Jwk) -> Vec<Algorithm> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return Vec::new();
    }
    let by_type: Vec<Algorithm> = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmParameters::EllipticCurve(p) => match p.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => Vec::new(),
        },
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            vec![Algorithm::EdDSA]
        }
        _ => Vec::new(),
    };
    let Some(named) = &jwk.common.key_algorithm else {
        return by_type;
    };
    // `alg` of the key, as its JOSE name.
    let named = serde_json::to_value(named)
        .ok()
        .and_then(|v| v.as_str().and_then(|s| s.parse::<Algorithm>().ok()));
    match named {
        Some(a) if by_type.contains(&a) => vec![a],
        _ => Vec::new(),
    }
}

impl KeySet {
    /// The usable keys of a JWKS document; keys of unknown or symmetric types are left
    /// out. Fails when the document is not a key set or has no usable key.
    pub(crate) fn parse(bytes: &[u8]) -> Result<KeySet, String> {
        let doc: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
        let Some(keys) = doc.get("keys").and_then(|k| k.as_array()) else {
            return Err("not a JWKS document (no \"keys\" array)".into());
        };
        let mut set = KeySet::default();
        for k in keys {
            let Ok(jwk) = serde_json::from_value::<Jwk>(k.clone()) else {
                continue;
            };
            let algorithms = algorithms_of(&jwk);
            if algorithms.is_empty() {
                continue;
            }
            let Ok(decoding) = DecodingKey::from_jwk(&jwk) else {
                continue;
            };
            let key = Arc::new(Key {
                decoding,
                algorithms,
            });
            match jwk.common.key_id {
                Some(kid) => {
                    set.by_kid.insert(kid, key);
                }
                None => set.unnamed.push(key),
            }
        }
        if set.is_empty() {
            return Err("the key set holds no usable asymmetric signing key".into());
        }
        Ok(set)
    }

    fn is_empty(&self) -> bool {
        self.by_kid.is_empty() && self.unnamed.is_empty()
    }

    /// The key of `kid` for `alg`; without `kid`, the one key that fits `alg`.
    pub(crate) fn find(&self, kid: Option<&str>, alg: Algorithm) -> Lookup {
        if let Some(kid) = kid {
            return match self.by_kid.get(kid) {
                Some(k) if k.algorithms.contains(&alg) => Lookup::Found(k.clone()),
                Some(_) => Lookup::WrongAlgorithm,
                None => Lookup::Missing,
            };
        }
        let mut fitting = self
            .by_kid
            .values()
            .chain(&self.unnamed)
            .filter(|k| k.algorithms.contains(&alg));
        match (fitting.next(), fitting.next()) {
            (Some(k), None) => Lookup::Found(k.clone()),
            _ => Lookup::Missing,
        }
    }
}

/// Why no key could be had.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum KeyError {
    /// The token names a key the provider does not have.
    Unknown,
    /// The named key is not a key of the token's algorithm.
    WrongAlgorithm,
    /// The key set could not be fetched, and no cached key fits.
    Unavailable,
}

enum Source {
    File,
    Url {
        client: reqwest::Client,
        url: url::Url,
    },
}

struct Cache {
    set: Arc<KeySet>,
    /// When the cached set was fetched.
    fetched: Option<Instant>,
    /// When the last fetch started, and whether it failed.
    attempt: Option<(Instant, bool)>,
}

/// The keys of the configured provider.
pub(crate) struct Jwks {
    source: Source,
    cache: RwLock<Cache>,
    /// Held by the one fetch running.
    fetching: tokio::sync::Mutex<()>,
    refreshing: AtomicBool,
    fetch_timeout: Duration,
    min_interval: Duration,
    refresh: Option<Duration>,
}

impl std::fmt::Debug for Jwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = self.cache.read();
        f.debug_struct("Jwks")
            .field("keys", &(c.set.by_kid.len() + c.set.unnamed.len()))
            .finish_non_exhaustive()
    }
}

impl Jwks {
    /// Reads `jwks_file`, or builds the client of `jwks_url` (fetched on first use).
    pub(crate) fn new(s: &JwtSettings) -> Result<Jwks, String> {
        let (source, set) = match (&s.jwks_file, &s.jwks_url) {
            (Some(path), _) => {
                let bytes = std::fs::read(path)
                    .map_err(|e| format!("jwks_file '{}': {e}", path.display()))?;
                let set = KeySet::parse(&bytes)
                    .map_err(|e| format!("jwks_file '{}': {e}", path.display()))?;
                (Source::File, set)
            }
            (None, Some(url)) => {
                let client = flowgate_http::build_client("auth.jwt", &s.http)
                    .map_err(|e| format!("http: {}", e.message()))?;
                let source = Source::Url {
                    client,
                    url: url.clone(),
                };
                (source, KeySet::default())
            }
            (None, None) => return Err("one of jwks_url and jwks_file is required".into()),
        };
        Ok(Jwks {
            source,
            cache: RwLock::new(Cache {
                set: Arc::new(set),
                fetched: None,
                attempt: None,
            }),
            fetching: tokio::sync::Mutex::new(()),
            refreshing: AtomicBool::new(false),
            fetch_timeout: Duration::from_millis(s.fetch_timeout_ms),
            min_interval: Duration::from_millis(s.refetch_min_interval_ms),
            refresh: (s.refresh_secs > 0).then(|| Duration::from_secs(s.refresh_secs)),
        })
    }

    /// The key for a token naming `kid` (if any) and signed with `alg`.
    pub(crate) async fn key(
        self: &Arc<Self>,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<Key>, KeyError> {
        let (found, stale) = {
            let c = self.cache.read();
            let stale = match (self.refresh, c.fetched) {
                (Some(max), Some(at)) => at.elapsed() >= max,
                _ => false,
            };
            (c.set.find(kid, alg), stale)
        };
        match found {
            Lookup::Found(k) => {
                if stale {
                    self.refresh_in_background();
                }
                return Ok(k);
            }
            Lookup::WrongAlgorithm => return Err(KeyError::WrongAlgorithm),
            Lookup::Missing => {}
        }
        if matches!(self.source, Source::File) {
            return Err(KeyError::Unknown);
        }
        // One fetch at a time; the others wait for its outcome. The fetch is bounded by
        // `fetch_timeout`, so this wait is too.
        let Ok(_guard) = tokio::time::timeout(self.fetch_timeout * 2, self.fetching.lock()).await
        else {
            return Err(KeyError::Unavailable);
        };
        let attempt = {
            let c = self.cache.read();
            match c.set.find(kid, alg) {
                Lookup::Found(k) => return Ok(k),
                Lookup::WrongAlgorithm => return Err(KeyError::WrongAlgorithm),
                Lookup::Missing => c.attempt,
            }
        };
        if let Some((at, failed)) = attempt {
            if at.elapsed() < self.min_interval {
                // Fetched a moment ago: the key was not there, or the provider could
                // not be reached and is not asked again yet.
                return Err(if failed {
                    KeyError::Unavailable
                } else {
                    KeyError::Unknown
                });
            }
        }
        if !self.fetch_now().await {
            return Err(KeyError::Unavailable);
        }
        match self.cache.read().set.find(kid, alg) {
            Lookup::Found(k) => Ok(k),
            Lookup::WrongAlgorithm => Err(KeyError::WrongAlgorithm),
            Lookup::Missing => Err(KeyError::Unknown),
        }
    }

    /// Fetches the key set and caches it; whether it worked. Callers hold `fetching`.
    async fn fetch_now(&self) -> bool {
        let Source::Url { client, url } = &self.source else {
            return false;
        };
        let started = Instant::now();
        let outcome = match tokio::time::timeout(self.fetch_timeout, fetch(client, url)).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "no answer within {} ms",
                self.fetch_timeout.as_millis()
            )),
        };
        let mut c = self.cache.write();
        match outcome {
            Ok(set) => {
                c.set = Arc::new(set);
                c.fetched = Some(Instant::now());
                c.attempt = Some((started, false));
                tracing::info!(jwks_url = %url, "fetched the identity provider's signing keys");
                true
            }
            Err(why) => {
                c.attempt = Some((started, true));
                tracing::warn!(
                    jwks_url = %url,
                    error = %why,
                    "cannot fetch the identity provider's signing keys; cached keys stay in use"
                );
                false
            }
        }
    }

    /// Starts a refresh of a stale set unless one is running or one ran a moment ago.
    fn refresh_in_background(self: &Arc<Self>) {
        let recent = self
            .cache
            .read()
            .attempt
            .is_some_and(|(at, _)| at.elapsed() < self.min_interval);
        if recent || self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            if let Ok(_guard) = this.fetching.try_lock() {
                this.fetch_now().await;
            }
            this.refreshing.store(false, Ordering::Release);
        });
    }
}

/// One GET of the key set, its body bounded by [`MAX_JWKS_BYTES`].
async fn fetch(client: &reqwest::Client, url: &url::Url) -> Result<KeySet, String> {
    let mut resp = client
        .get(url.as_str())
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("answered HTTP {}", resp.status().as_u16()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("reading the answer failed: {e}"))?
    {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(format!("the key set is larger than {MAX_JWKS_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    KeySet::parse(&body)
}
