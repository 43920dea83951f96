//! `kind = "embedded"` (alias `"memory"`): the embedded engine's settings, how its
//! storage is chosen and how long it keeps ended workflows.
//!
//! Storage: `storage = "memory" | "redb" | "postgres"`. Without `storage`, the older keys decide as
//! they always did: `data_dir` set → redb (unless `durability = "memory"`), no
//! `data_dir` → memory. Contradictions are errors at start, never a silent choice:
//! `storage = "redb"` without `data_dir`, `storage = "memory"` with `data_dir` (the
//! directory would be ignored and every restart would lose the state the operator
//! thought was kept), and `durability` disagreeing with `storage`. PostgreSQL takes
//! `database_url` (a secret, best given as `FLOWGATE__ENGINES__<NAME>__DATABASE_URL`),
//! and optionally `database_schema`, `pool_size`, `statement_timeout_ms`,
//! `acquire_timeout_ms` and `migrate_on_start`.

use std::path::PathBuf;
use std::time::Duration;

use flowgate_core::Secret;
use flowgate_memory::pg::PgOptions;
use flowgate_memory::{Durability, RetentionPolicy, StorageOptions};
use serde::Deserialize;

/// Storage backends the `storage` key names, as written.
pub const STORAGE_KINDS: &[&str] = &["memory", "redb", "postgres"];

/// `kind = "embedded"`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryEngineSettings {
    /// Directory of model JSON files; absent means the built-in models.
    #[serde(default)]
    pub models_dir: Option<PathBuf>,
    /// Default engine flag.
    #[serde(default)]
    pub default: bool,
    /// Id prefix, see [`super::CommonEngineSettings::id_prefix`].
    #[serde(default)]
    pub id_prefix: Option<String>,
    /// Document mounts, see [`super::CommonEngineSettings::mounts`].
    #[serde(default)]
    pub mounts: Vec<String>,
    /// Seconds between runs of the models' escalation rules (e.g. the parallel review's
    /// deadline); 0 turns escalation off.
    #[serde(default = "default_escalation_secs")]
    pub escalation_interval_secs: u64,
    /// `"memory"` (nothing kept) or `"redb"` (a file in `data_dir`). Absent: derived
    /// from `data_dir` and `durability`.
    #[serde(default)]
    pub storage: Option<String>,
    /// Directory of the engine's durable state (created if missing). Absent: the state
    /// lives in memory only (see `durability`).
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// `"fsync"` (every change on disk before the answer; the default when `data_dir`
    /// is set) or `"memory"` (nothing kept; the default without `data_dir`).
    #[serde(default)]
    pub durability: Option<String>,
    /// Log entries after which the durable log is folded into the stored records.
    #[serde(default = "default_snapshot_threshold")]
    pub snapshot_threshold: u64,
    /// How long ended (done or canceled) workflows and their tasks are kept after their
    /// end: `"30d"`, `"12h"`, `"90m"`. Absent: kept forever.
    #[serde(default)]
    pub retention: Option<String>,
    /// Seconds between two retention sweeps.
    #[serde(default = "default_sweep_secs")]
    pub retention_sweep_secs: u64,
    /// Most workflows deleted per batch of a sweep (one commit each).
    #[serde(default = "default_batch")]
    pub retention_batch: usize,
    /// PostgreSQL: `postgres://user:password@host:5432/db`. A secret: give it through
    /// the environment; it is never logged.
    #[serde(default)]
    pub database_url: Option<Secret>,
    /// PostgreSQL: schema of the tables (created if missing). Absent: the connection's
    /// search path.
    #[serde(default)]
    pub database_schema: Option<String>,
    /// PostgreSQL: connections kept by this replica.
    #[serde(default = "default_pool_size")]
    pub pool_size: u32,
    /// PostgreSQL: longest time one statement may run.
    #[serde(default = "default_statement_timeout_ms")]
    pub statement_timeout_ms: u64,
    /// PostgreSQL: longest wait for a connection before a request answers 503.
    #[serde(default = "default_acquire_timeout_ms")]
    pub acquire_timeout_ms: u64,
    /// PostgreSQL: apply pending schema migrations at start (under an advisory lock,
    /// so replicas may start together). Off: `flowgate migrate` applies them.
    #[serde(default = "default_true")]
    pub migrate_on_start: bool,
}

fn default_pool_size() -> u32 {
    flowgate_memory::pg::DEFAULT_POOL_SIZE
}

fn default_statement_timeout_ms() -> u64 {
    5_000
}

fn default_acquire_timeout_ms() -> u64 {
    3_000
}

fn default_true() -> bool {
    true
}

fn default_snapshot_threshold() -> u64 {
    flowgate_memory::storage::DEFAULT_SNAPSHOT_THRESHOLD
}

fn default_escalation_secs() -> u64 {
    60
}

fn default_sweep_secs() -> u64 {
    flowgate_memory::retention::DEFAULT_SWEEP_SECS
}

fn default_batch() -> usize {
    flowgate_memory::retention::DEFAULT_BATCH
}

impl MemoryEngineSettings {
    /// How the engine keeps its state, or the problems with these settings, each
    /// naming its key under `engines.<name>`.
    pub fn storage(&self, name: &str) -> Result<StorageOptions, Vec<String>> {
        let mut errs = Vec::new();
        let durability = match self.durability.as_deref() {
            Some(d) => match d.parse::<Durability>() {
                Ok(d) => Some(d),
                Err(e) => {
                    errs.push(format!("engines.{name}.durability: {e}"));
                    None
                }
            },
            None => None,
        };
        let durability = match self.storage.as_deref().map(str::trim) {
            None => match durability {
                Some(d) => d,
                None if self.data_dir.is_some() => Durability::Fsync,
                None => Durability::Memory,
            },
            Some("redb") => {
                if durability == Some(Durability::Memory) {
                    errs.push(format!(
                        "engines.{name}.durability: \"memory\" contradicts storage = \"redb\"; remove durability"
                    ));
                }
                Durability::Fsync
            }
            Some("memory") => {
                if self.data_dir.is_some() {
                    errs.push(format!(
                        "engines.{name}.data_dir: storage = \"memory\" keeps nothing on disk; remove data_dir, or use storage = \"redb\" to keep the state there"
                    ));
                }
                if durability == Some(Durability::Fsync) {
                    errs.push(format!(
                        "engines.{name}.durability: \"fsync\" contradicts storage = \"memory\"; remove durability"
                    ));
                }
                Durability::Memory
            }
            Some("postgres") => {
                if self.data_dir.is_some() {
                    errs.push(format!(
                        "engines.{name}.data_dir: storage = \"postgres\" keeps the state in the database; remove data_dir"
                    ));
                }
                if durability.is_some() {
                    errs.push(format!(
                        "engines.{name}.durability: not used with storage = \"postgres\"; remove durability"
                    ));
                }
                Durability::Memory
            }
            Some(other) => {
                errs.push(format!(
                    "engines.{name}.storage: '{other}' is not a storage; expected one of \"{}\"",
                    STORAGE_KINDS.join("\", \"")
                ));
                Durability::Memory
            }
        };
        if durability == Durability::Fsync && self.data_dir.is_none() {
            let why = match self.storage.as_deref() {
                Some(_) => "storage = \"redb\"",
                None => "durability = \"fsync\"",
            };
            errs.push(format!("engines.{name}.data_dir: required when {why}"));
        }
        if self.snapshot_threshold == 0 {
            errs.push(format!(
                "engines.{name}.snapshot_threshold: must be at least 1"
            ));
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(StorageOptions {
            data_dir: self.data_dir.clone().unwrap_or_default(),
            durability,
            snapshot_threshold: self.snapshot_threshold,
        })
    }

    /// Whether the state is kept in PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.storage.as_deref().map(str::trim) == Some("postgres")
    }

    /// The PostgreSQL options (`None` for the other storages), or the problems with
    /// their keys.
    pub fn postgres(&self, name: &str) -> Result<Option<PgOptions>, Vec<String>> {
        let mut errs = Vec::new();
        if !self.is_postgres() {
            for (key, set) in [
                ("database_url", self.database_url.is_some()),
                ("database_schema", self.database_schema.is_some()),
            ] {
                if set {
                    errs.push(format!(
                        "engines.{name}.{key}: only used with storage = \"postgres\""
                    ));
                }
            }
            return if errs.is_empty() { Ok(None) } else { Err(errs) };
        }
        let url = match &self.database_url {
            Some(u) if !u.expose().trim().is_empty() => u.expose().trim().to_owned(),
            _ => {
                errs.push(format!(
                    "engines.{name}.database_url: required with storage = \"postgres\" (set FLOWGATE__ENGINES__{}__DATABASE_URL)",
                    name.to_ascii_uppercase()
                ));
                String::new()
            }
        };
        let postgres_scheme = url.starts_with("postgres://") || url.starts_with("postgresql://");
        if !url.is_empty() && !postgres_scheme {
            errs.push(format!(
                "engines.{name}.database_url: must start with postgres:// or postgresql://"
            ));
        }
        if let Some(schema) = &self.database_schema {
            let plain = schema
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
                && schema
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && schema.len() <= 63;
            if !plain {
                errs.push(format!(
                    "engines.{name}.database_schema: '{schema}' must be lower-case letters, digits and '_' (at most 63)"
                ));
            }
        }
        for (key, v) in [
            ("pool_size", u64::from(self.pool_size)),
            ("statement_timeout_ms", self.statement_timeout_ms),
            ("acquire_timeout_ms", self.acquire_timeout_ms),
        ] {
            if v == 0 {
                errs.push(format!("engines.{name}.{key}: must be at least 1"));
            }
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        let mut options = PgOptions::new(url);
        options.schema = self.database_schema.clone();
        options.pool_size = self.pool_size;
        options.statement_timeout = Duration::from_millis(self.statement_timeout_ms);
        options.acquire_timeout = Duration::from_millis(self.acquire_timeout_ms);
        options.migrate = self.migrate_on_start;
        Ok(Some(options))
    }

    /// The retention policy (`None`: ended workflows are kept forever), or the
    /// problems with its keys.
    pub fn retention(&self, name: &str) -> Result<Option<RetentionPolicy>, Vec<String>> {
        let mut errs = Vec::new();
        if self.retention_sweep_secs == 0 {
            errs.push(format!(
                "engines.{name}.retention_sweep_secs: must be at least 1"
            ));
        }
        if self.retention_batch == 0 {
            errs.push(format!(
                "engines.{name}.retention_batch: must be at least 1"
            ));
        }
        let keep = match self.retention.as_deref() {
            None => None,
            Some(text) => match flowgate_memory::parse_retention(text) {
                Ok(d) => Some(d),
                Err(e) => {
                    errs.push(format!("engines.{name}.retention: {e}"));
                    None
                }
            },
        };
        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(keep.map(|keep| RetentionPolicy {
            keep,
            sweep_every: Duration::from_secs(self.retention_sweep_secs),
            batch: self.retention_batch,
        }))
    }

    /// Every problem with these settings.
    pub fn validate(&self, name: &str) -> Vec<String> {
        let mut errs = Vec::new();
        if let Err(e) = self.storage(name) {
            errs.extend(e);
        }
        if let Err(e) = self.retention(name) {
            errs.extend(e);
        }
        if let Err(e) = self.postgres(name) {
            errs.extend(e);
        }
        if let Some(dir) = &self.models_dir {
            if !dir.is_dir() {
                errs.push(format!(
                    "engines.{name}.models_dir: '{}' is not a directory",
                    dir.display()
                ));
            }
        }
        errs
    }
}

#[cfg(test)]
mod tests {
    use super::super::{EngineSettings, Settings, SettingsError, Sources};
    use super::*;

    fn engine(body: &str) -> Result<MemoryEngineSettings, String> {
        match Settings::load(&Sources::from_toml(format!("[engines.local]\n{body}\n"))) {
            Ok(s) => match s.engines.get("local") {
                Some(EngineSettings::Memory(m)) => Ok(m.clone()),
                other => Err(format!("not an embedded engine: {other:?}")),
            },
            Err(e) => Err(e.to_string()),
        }
    }

    fn problems(body: &str) -> String {
        match Settings::load(&Sources::from_toml(format!("[engines.local]\n{body}\n"))) {
            Err(SettingsError::Invalid(p)) => p.join("\n"),
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted: {body}"),
        }
    }

    #[test]
    fn embedded_is_the_kind_and_memory_its_alias() {
        for kind in ["embedded", "memory"] {
            let m = engine(&format!("kind = \"{kind}\"")).unwrap();
            let s = m.storage("local").unwrap();
            assert_eq!(s.durability, Durability::Memory);
        }
        let s =
            Settings::load(&Sources::from_toml("[engines.local]\nkind = \"memory\"\n")).unwrap();
        assert_eq!(s.engines["local"].kind(), "embedded");
    }

    #[test]
    fn an_unknown_kind_names_the_accepted_ones() {
        let msg = problems("kind = \"nope\"");
        for k in ["nope", "embedded", "memory", "alfresco", "cq"] {
            assert!(msg.contains(k), "{k} missing in {msg}");
        }
    }

    #[test]
    fn storage_is_chosen_explicitly_or_from_the_older_keys() {
        let redb =
            engine("kind = \"embedded\"\nstorage = \"redb\"\ndata_dir = \"/tmp/x\"").unwrap();
        let s = redb.storage("local").unwrap();
        assert_eq!(s.durability, Durability::Fsync);
        assert_eq!(s.data_dir, PathBuf::from("/tmp/x"));
        let mem = engine("kind = \"embedded\"\nstorage = \"memory\"").unwrap();
        assert_eq!(mem.storage("local").unwrap().durability, Durability::Memory);
        // Older spellings keep their meaning.
        let old = engine("kind = \"memory\"\ndata_dir = \"/tmp/x\"").unwrap();
        assert_eq!(old.storage("local").unwrap().durability, Durability::Fsync);
        let old =
            engine("kind = \"memory\"\ndata_dir = \"/tmp/x\"\ndurability = \"memory\"").unwrap();
        assert_eq!(old.storage("local").unwrap().durability, Durability::Memory);
        let both = engine(
            "kind = \"embedded\"\nstorage = \"redb\"\ndata_dir = \"/tmp/x\"\ndurability = \"fsync\"",
        )
        .unwrap();
        assert_eq!(both.storage("local").unwrap().durability, Durability::Fsync);
    }

    #[test]
    fn contradictory_storage_settings_are_refused_with_their_key() {
        let msg = problems("kind = \"embedded\"\nstorage = \"redb\"");
        assert!(
            msg.contains("engines.local.data_dir: required when storage = \"redb\""),
            "{msg}"
        );
        let msg = problems("kind = \"embedded\"\nstorage = \"memory\"\ndata_dir = \"/tmp/x\"");
        assert!(msg.contains("engines.local.data_dir"), "{msg}");
        assert!(msg.contains("keeps nothing on disk"), "{msg}");
        let msg = problems(
            "kind = \"embedded\"\nstorage = \"redb\"\ndata_dir = \"/tmp/x\"\ndurability = \"memory\"",
        );
        assert!(msg.contains("engines.local.durability"), "{msg}");
        let msg = problems("kind = \"embedded\"\nstorage = \"memory\"\ndurability = \"fsync\"");
        assert!(msg.contains("engines.local.durability"), "{msg}");
        let msg = problems("kind = \"embedded\"\nstorage = \"disk\"");
        assert!(msg.contains("engines.local.storage: 'disk'"), "{msg}");
        assert!(msg.contains("\"memory\", \"redb\""), "{msg}");
        let msg = problems("kind = \"embedded\"\ndurability = \"fsync\"");
        assert!(
            msg.contains("required when durability = \"fsync\""),
            "{msg}"
        );
    }

    #[test]
    fn postgres_storage_needs_a_url_and_checks_its_keys() {
        let msg = problems("kind = \"embedded\"\nstorage = \"postgres\"");
        assert!(
            msg.contains("engines.local.database_url: required"),
            "{msg}"
        );
        assert!(
            msg.contains("FLOWGATE__ENGINES__LOCAL__DATABASE_URL"),
            "{msg}"
        );
        let msg = problems(
            "kind = \"embedded\"\nstorage = \"postgres\"\ndatabase_url = \"mysql://x\"\ndatabase_schema = \"Bad;\"\npool_size = 0\ndata_dir = \"/tmp/x\"",
        );
        for key in [
            "database_url: must start",
            "database_schema",
            "pool_size",
            "data_dir",
        ] {
            assert!(msg.contains(key), "{key} missing in {msg}");
        }
        let msg = problems("kind = \"embedded\"\ndatabase_url = \"postgres://h/db\"");
        assert!(
            msg.contains("only used with storage = \"postgres\""),
            "{msg}"
        );
        let m = engine(
            "kind = \"embedded\"\nstorage = \"postgres\"\ndatabase_url = \"postgres://u:pw@h/db\"\ndatabase_schema = \"fg\"\npool_size = 4",
        )
        .unwrap();
        let o = m.postgres("local").unwrap().unwrap();
        assert_eq!((o.pool_size, o.schema.as_deref()), (4, Some("fg")));
        assert!(o.migrate);
        // The URL never shows in the settings' debug output.
        assert!(!format!("{m:?}").contains("pw@"));
    }

    #[test]
    fn retention_defaults_to_keeping_and_parses_durations() {
        let m = engine("kind = \"embedded\"").unwrap();
        assert_eq!(m.retention("local").unwrap(), None);
        let m = engine(
            "kind = \"embedded\"\nretention = \"30d\"\nretention_sweep_secs = 5\nretention_batch = 10",
        )
        .unwrap();
        assert_eq!(
            m.retention("local").unwrap(),
            Some(RetentionPolicy {
                keep: Duration::from_secs(30 * 86_400),
                sweep_every: Duration::from_secs(5),
                batch: 10,
            })
        );
        let m = engine("kind = \"embedded\"\nretention = \"12h\"").unwrap();
        let p = m.retention("local").unwrap().unwrap();
        assert_eq!(p.keep, Duration::from_secs(12 * 3_600));
        assert_eq!(p.sweep_every, Duration::from_secs(DEFAULT_SWEEP));
    }

    const DEFAULT_SWEEP: u64 = flowgate_memory::retention::DEFAULT_SWEEP_SECS;

    #[test]
    fn bad_retention_settings_name_their_key() {
        let msg = problems("kind = \"embedded\"\nretention = \"30 days\"");
        assert!(msg.contains("engines.local.retention: '30 days'"), "{msg}");
        let msg = problems("kind = \"embedded\"\nretention = \"0d\"");
        assert!(msg.contains("engines.local.retention"), "{msg}");
        let msg = problems("kind = \"embedded\"\nretention = \"1d\"\nretention_sweep_secs = 0\nretention_batch = 0");
        assert!(msg.contains("engines.local.retention_sweep_secs"), "{msg}");
        assert!(msg.contains("engines.local.retention_batch"), "{msg}");
    }
}
