//! Tokens issued by `authentication/token` and `POST /api/v1/token`.
//!
//! A token is 256 random bits, given to the client once. The store keeps only a keyed
//! hash of it (SipHash-1-3, 128 bits, under a random key drawn when the store is
//! created), next to what Nuxeo keeps of a token: user, application, device, device
//! description, permission and creation date, plus an optional expiry
//! (`auth.token_ttl`). Since the token itself is never kept, asking again for the
//! token of a (user, application, device) issues a new token that replaces the earlier
//! one; listings name a token by its hash ([`TokenInfo::id`]).
//!
//! Three stores: in memory (tokens end with the process), a redb file (`tokens.redb`
//! in the default embedded engine's `data_dir`) where they survive restarts, or the
//! default embedded engine's PostgreSQL database (`tokens_pg`), where every replica
//! sharing it accepts them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use chrono::Utc;
use parking_lot::Mutex;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use siphasher::sip128::SipHasher13;

/// Token hash → JSON of its [`Grant`].
const GRANTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("token_grants");
/// `hash_key` → the 16 bytes of the hashing key.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("token_meta");

pub use super::grants::{Grant, TokenInfo, TokenRequest};

type Hash = [u8; 16];

enum Backend {
    Memory(Mutex<HashMap<Hash, Grant>>),
    File(Box<Database>),
    Postgres(super::tokens_pg::PgTokens),
}

/// Where tokens are kept, and for how long they work.
pub struct TokenStore {
    keys: (u64, u64),
    backend: Backend,
    ttl: Option<Duration>,
}

impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenStore")
            .field("persistent", &self.persistent())
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// Runs `f` on the store from a blocking thread (a file store waits for its disk).
pub async fn blocking<R: Send + 'static>(
    store: &Arc<TokenStore>,
    f: impl FnOnce(&TokenStore) -> Result<R, String> + Send + 'static,
) -> Result<R, crate::error::ApiError> {
    let store = Arc::clone(store);
    actix_web::web::block(move || f(&store))
        .await
        .map_err(crate::error::ApiError::internal)?
        .map_err(crate::error::ApiError::internal)
}

fn store_err(e: impl std::fmt::Display) -> String {
    format!("token store: {e}")
}

impl TokenStore {
    /// Tokens kept in memory: they end with the process.
    pub fn memory(ttl: Option<Duration>) -> Self {
        Self {
            keys: (rand::random(), rand::random()),
            backend: Backend::Memory(Mutex::default()),
            ttl,
        }
    }

    /// Tokens kept in the redb file `path` (created when missing), with the hashing key
    /// the file holds (drawn when the file is created).
    pub fn open(path: &Path, ttl: Option<Duration>) -> Result<Self, String> {
        let db =
            Database::create(path).map_err(|e| format!("token store {}: {e}", path.display()))?;
        let txn = db.begin_write().map_err(store_err)?;
        let keys = {
            let mut meta = txn.open_table(META).map_err(store_err)?;
            txn.open_table(GRANTS).map_err(store_err)?;
            let stored = meta
                .get("hash_key")
                .map_err(store_err)?
                .map(|v| v.value().to_vec());
            let raw: [u8; 16] = match stored {
                Some(v) => v
                    .try_into()
                    .map_err(|_| store_err("the hashing key is damaged"))?,
                None => {
                    let mut raw = [0u8; 16];
                    rand::fill(&mut raw);
                    meta.insert("hash_key", raw.as_slice()).map_err(store_err)?;
                    raw
                }
            };
            let (k0, k1) = raw.split_at(8);
            (
                u64::from_le_bytes(k0.try_into().map_err(store_err)?),
                u64::from_le_bytes(k1.try_into().map_err(store_err)?),
            )
        };
        txn.commit().map_err(store_err)?;
        Ok(Self {
            keys,
            backend: Backend::File(Box::new(db)),
            ttl,
        })
    }

    /// Tokens kept in the database of an embedded engine on PostgreSQL, with the
    /// hashing key every replica shares.
    pub fn postgres(
        engine: Arc<flowgate_memory::pg::PgEngine>,
        ttl: Option<Duration>,
    ) -> Result<Self, String> {
        let (pg, keys) = super::tokens_pg::PgTokens::open(engine)?;
        Ok(Self {
            keys,
            backend: Backend::Postgres(pg),
            ttl,
        })
    }

    /// Tokens survive a restart.
    pub fn persistent(&self) -> bool {
        matches!(self.backend, Backend::File(_) | Backend::Postgres(_))
    }

    fn hash(&self, token: &str) -> Hash {
        SipHasher13::new_with_keys(self.keys.0, self.keys.1)
            .hash(token.as_bytes())
            .as_bytes()
    }

    /// Issues a token, replacing the earlier one of the same (user, application,
    /// device). The token is returned once and never kept.
    pub fn issue(&self, r: &TokenRequest) -> Result<String, String> {
        let mut raw = [0u8; 32];
        rand::fill(&mut raw);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
        let created = Utc::now();
        let grant = Grant {
            user: r.user.clone(),
            application: r.application.clone(),
            device_id: r.device_id.clone(),
            device_description: r.device_description.clone(),
            permission: r.permission.clone(),
            created,
            expires: self
                .ttl
                .and_then(|t| chrono::Duration::from_std(t).ok())
                .and_then(|t| created.checked_add_signed(t)),
        };
        let hash = self.hash(&token);
        if let Backend::Postgres(pg) = &self.backend {
            pg.issue(hex(&hash), grant)?;
            return Ok(token);
        }
        let same = |g: &Grant| {
            g.user == r.user && g.application == r.application && g.device_id == r.device_id
        };
        self.change(|grants| {
            grants.retain(|_, g| !same(g));
            grants.insert(hash, grant.clone());
        })?;
        Ok(token)
    }

    /// [`TokenStore::lookup`] for asynchronous callers: a database store is asked
    /// without blocking the caller's thread.
    pub async fn lookup_async(&self, token: &str) -> Result<Option<Grant>, String> {
        match &self.backend {
            Backend::Postgres(pg) => pg.lookup(hex(&self.hash(token))).await,
            _ => self.lookup(token),
        }
    }

    /// The grant of a token that exists and has not expired; an expired one is
    /// removed. Blocks on a database store: call it from a blocking thread.
    pub fn lookup(&self, token: &str) -> Result<Option<Grant>, String> {
        let hash = self.hash(token);
        let found = match &self.backend {
            Backend::Postgres(_) => return Err(store_err("use lookup_async")),
            Backend::Memory(m) => m.lock().get(&hash).cloned(),
            Backend::File(db) => {
                let txn = db.begin_read().map_err(store_err)?;
                let t = txn.open_table(GRANTS).map_err(store_err)?;
                let v = t.get(hash.as_slice()).map_err(store_err)?;
                match v {
                    Some(v) => Some(serde_json::from_slice(v.value()).map_err(store_err)?),
                    None => None,
                }
            }
        };
        match found {
            Some(g) if g.expired(Utc::now()) => {
                self.change(|grants| {
                    grants.remove(&hash);
                })?;
                Ok(None)
            }
            other => Ok(other),
        }
    }

    /// Revokes the token of (user, application, device); whether one existed.
    pub fn revoke(&self, user: &str, application: &str, device_id: &str) -> Result<bool, String> {
        if let Backend::Postgres(pg) = &self.backend {
            return pg.revoke(user, application, device_id);
        }
        self.change(|grants| {
            let before = grants.len();
            grants.retain(|_, g| {
                !(g.user == user && g.application == application && g.device_id == device_id)
            });
            grants.len() != before
        })
    }

    /// Revokes one of `user`'s tokens, named by the token itself or by its
    /// [`TokenInfo::id`]; what it granted, `None` when `user` has no such token
    /// (another user's token does not count).
    pub fn revoke_one(&self, user: &str, token_or_id: &str) -> Result<Option<Grant>, String> {
        let mut candidates = vec![self.hash(token_or_id)];
        if let Some(h) = parse_id(token_or_id) {
            candidates.push(h);
        }
        if let Backend::Postgres(pg) = &self.backend {
            return pg.revoke_one(user, candidates.iter().map(hex).collect());
        }
        self.change(|grants| {
            for h in &candidates {
                if grants.get(h).is_some_and(|g| g.user == user) {
                    return grants.remove(h);
                }
            }
            None
        })
    }

    /// `user`'s tokens that have not expired, oldest first, of `application` only when
    /// given. Expired ones are removed on the way.
    pub fn list(&self, user: &str, application: Option<&str>) -> Result<Vec<TokenInfo>, String> {
        if let Backend::Postgres(pg) = &self.backend {
            return pg.list(user, application);
        }
        let now = Utc::now();
        let mut out = Vec::new();
        let mut expired = false;
        self.read_all(|hash, g| {
            if g.expired(now) {
                expired = true;
            } else if g.user == user && application.is_none_or(|a| g.application == a) {
                out.push(TokenInfo {
                    id: hex(hash),
                    grant: g.clone(),
                });
            }
        })?;
        if expired {
            self.change(|grants| grants.retain(|_, g| !g.expired(now)))?;
        }
        out.sort_by_key(|t| t.grant.created);
        Ok(out)
    }

    fn read_all(&self, mut f: impl FnMut(&Hash, &Grant)) -> Result<(), String> {
        match &self.backend {
            Backend::Postgres(_) => return Err(store_err("not a local store")),
            Backend::Memory(m) => {
                for (h, g) in m.lock().iter() {
                    f(h, g);
                }
            }
            Backend::File(db) => {
                let txn = db.begin_read().map_err(store_err)?;
                let t = txn.open_table(GRANTS).map_err(store_err)?;
                for row in t.iter().map_err(store_err)? {
                    let (k, v) = row.map_err(store_err)?;
                    let Ok(h) = Hash::try_from(k.value()) else {
                        continue;
                    };
                    let g: Grant = serde_json::from_slice(v.value()).map_err(store_err)?;
                    f(&h, &g);
                }
            }
        }
        Ok(())
    }

    /// Applies `f` to all grants, in one transaction for a file store.
    fn change<R>(&self, f: impl FnOnce(&mut HashMap<Hash, Grant>) -> R) -> Result<R, String> {
        match &self.backend {
            Backend::Postgres(_) => Err(store_err("not a local store")),
            Backend::Memory(m) => Ok(f(&mut m.lock())),
            Backend::File(db) => {
                let txn = db.begin_write().map_err(store_err)?;
                let out = {
                    let mut t = txn.open_table(GRANTS).map_err(store_err)?;
                    let mut grants = HashMap::new();
                    for row in t.iter().map_err(store_err)? {
                        let (k, v) = row.map_err(store_err)?;
                        if let Ok(h) = Hash::try_from(k.value()) {
                            let g: Grant = serde_json::from_slice(v.value()).map_err(store_err)?;
                            grants.insert(h, g);
                        }
                    }
                    let before = grants.clone();
                    let out = f(&mut grants);
                    for h in before.keys().filter(|h| !grants.contains_key(*h)) {
                        t.remove(h.as_slice()).map_err(store_err)?;
                    }
                    for (h, g) in &grants {
                        if before.get(h) != Some(g) {
                            let json = serde_json::to_vec(g).map_err(store_err)?;
                            t.insert(h.as_slice(), json.as_slice()).map_err(store_err)?;
                        }
                    }
                    out
                };
                txn.commit().map_err(store_err)?;
                Ok(out)
            }
        }
    }
}

/// The store `settings` call for: the database of the default engine when it is an
/// embedded engine on PostgreSQL (`databases`), a `tokens.redb` file in its `data_dir`
/// when it keeps its state in redb, memory otherwise.
pub fn for_settings(
    settings: &crate::settings::Settings,
    databases: &[(String, Arc<flowgate_memory::pg::PgEngine>)],
) -> Result<TokenStore, String> {
    use crate::settings::EngineSettings;
    let ttl = settings
        .auth
        .token_ttl
        .as_deref()
        .map(crate::settings::parse_ttl)
        .transpose()?;
    let single = settings.engines.len() == 1;
    let default = settings
        .engines
        .iter()
        .find(|(_, e)| single || e.common().default);
    if let Some((name, EngineSettings::Memory(m))) = default {
        if let Some((_, db)) = databases.iter().find(|(n, _)| n == name) {
            let store = TokenStore::postgres(db.clone(), ttl)?;
            tracing::info!(engine = %name, "tokens are kept in the engine's PostgreSQL database, shared by its replicas");
            return Ok(store);
        }
        if let Ok(opts) = m.storage(name) {
            if opts.durability == flowgate_memory::storage::Durability::Fsync {
                std::fs::create_dir_all(&opts.data_dir)
                    .map_err(|e| format!("token store {}: {e}", opts.data_dir.display()))?;
                let path = opts.data_dir.join("tokens.redb");
                let store = TokenStore::open(&path, ttl)?;
                tracing::info!(path = %path.display(), "tokens are kept in a file and survive restarts");
                return Ok(store);
            }
        }
    }
    tracing::info!("tokens are kept in memory and end with the process");
    Ok(TokenStore::memory(ttl))
}

fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_id(s: &str) -> Option<Hash> {
    if s.len() != 32 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(user: &str, device: &str, permission: &str) -> TokenRequest {
        TokenRequest {
            user: user.into(),
            application: "app".into(),
            device_id: device.into(),
            device_description: Some("laptop".into()),
            permission: permission.into(),
        }
    }

    #[test]
    fn a_file_store_keeps_hashes_only_and_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.redb");
        let s = TokenStore::open(&path, None).unwrap();
        let token = s.issue(&req("jdoe", "d1", "rw")).unwrap();
        let other = s.issue(&req("bob", "d1", "r")).unwrap();
        drop(s);
        let bytes = std::fs::read(&path).unwrap();
        let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        assert!(!contains(token.as_bytes()), "the token is on disk in clear");
        assert!(contains(b"jdoe"));

        let s = TokenStore::open(&path, None).unwrap();
        let g = s.lookup(&token).unwrap().unwrap();
        assert_eq!((g.user.as_str(), g.read_only()), ("jdoe", false));
        assert!(s.lookup(&other).unwrap().unwrap().read_only());
        assert_eq!(s.lookup("nope").unwrap(), None);
        let listed = s.list("jdoe", None).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            listed[0].grant.device_description.as_deref(),
            Some("laptop")
        );
        // By id, and only by its owner.
        assert_eq!(s.revoke_one("bob", &listed[0].id).unwrap(), None);
        assert!(s.revoke_one("jdoe", &listed[0].id).unwrap().is_some());
        assert_eq!(s.lookup(&token).unwrap(), None);
    }

    #[test]
    fn asking_again_replaces_the_token_of_a_device() {
        let s = TokenStore::memory(None);
        let t1 = s.issue(&req("jdoe", "d1", "rw")).unwrap();
        let t2 = s.issue(&req("jdoe", "d1", "r")).unwrap();
        let t3 = s.issue(&req("jdoe", "d2", "rw")).unwrap();
        assert_ne!(t1, t2);
        assert_eq!(s.lookup(&t1).unwrap(), None);
        assert!(s.lookup(&t2).unwrap().unwrap().read_only());
        assert!(s.lookup(&t3).unwrap().is_some());
        assert_eq!(s.list("jdoe", None).unwrap().len(), 2);
        assert_eq!(s.list("jdoe", Some("other")).unwrap().len(), 0);
        assert!(s.revoke("jdoe", "app", "d1").unwrap());
        assert!(!s.revoke("jdoe", "app", "d1").unwrap());
        assert!(s.revoke_one("jdoe", &t3).unwrap().is_some());
        assert!(s.list("jdoe", None).unwrap().is_empty());
    }

    #[test]
    fn expired_tokens_stop_working_and_are_removed() {
        let s = TokenStore::memory(Some(Duration::from_secs(1)));
        let t = s.issue(&req("jdoe", "d1", "rw")).unwrap();
        let g = s.lookup(&t).unwrap().unwrap();
        assert!(g.expires.is_some_and(|e| e > g.created));
        if let Backend::Memory(m) = &s.backend {
            for g in m.lock().values_mut() {
                g.expires = Some(Utc::now() - chrono::Duration::seconds(1));
            }
        }
        assert!(s.list("jdoe", None).unwrap().is_empty());
        assert_eq!(s.lookup(&t).unwrap(), None);
        let Backend::Memory(m) = &s.backend else {
            unreachable!()
        };
        assert!(m.lock().is_empty());
    }
}
