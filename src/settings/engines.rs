//! `[engines.<name>]`: which workflow engines the gateway serves, and how ids and
//! document paths are routed to them.

use serde::Deserialize;

use super::MemoryEngineSettings;

/// The name of the engine the gateway runs when no engine is configured.
pub const BUILTIN_ENGINE: &str = "local";

/// One `[engines.<name>]` entry; `kind` selects the backend.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "kind", deny_unknown_fields)]
pub enum EngineSettings {
    /// The embedded engine (`kind = "embedded"`, or its older name `"memory"`).
    #[serde(rename = "embedded", alias = "memory")]
    Memory(MemoryEngineSettings),
    /// An Alfresco Content Services repository (`flowgate-alfresco`).
    #[serde(rename = "alfresco")]
    Alfresco(flowgate_alfresco::AlfrescoConfig),
    /// An Adobe CQ / AEM author instance (`flowgate-cq`).
    #[serde(rename = "cq")]
    Cq(flowgate_cq::CqConfig),
}

impl EngineSettings {
    /// Settings every engine kind has.
    pub fn common(&self) -> CommonEngineSettings {
        match self {
            EngineSettings::Memory(m) => CommonEngineSettings {
                default: m.default,
                id_prefix: m.id_prefix.clone(),
                mounts: m.mounts.clone(),
            },
            EngineSettings::Alfresco(a) => CommonEngineSettings {
                default: a.default,
                id_prefix: a.id_prefix.clone(),
                mounts: a.mounts.clone(),
            },
            EngineSettings::Cq(c) => CommonEngineSettings {
                default: c.default,
                id_prefix: c.id_prefix.clone(),
                mounts: c.mounts.clone(),
            },
        }
    }

    /// The kind as written in the file.
    pub fn kind(&self) -> &'static str {
        match self {
            EngineSettings::Memory(_) => "embedded",
            EngineSettings::Alfresco(_) => "alfresco",
            EngineSettings::Cq(_) => "cq",
        }
    }

    /// Whether the engine is reached over the network (and so has an upstream breaker).
    pub fn is_remote(&self) -> bool {
        !matches!(self, EngineSettings::Memory(_))
    }

    /// Whether the engine forwards each caller's own credentials (Basic, or the bearer
    /// token of a bearer sign-in) upstream, so the gateway must keep them in the call
    /// context for this engine (and only this one).
    pub fn passthrough(&self) -> bool {
        match self {
            EngineSettings::Memory(_) => false,
            EngineSettings::Alfresco(a) => a.auth.mode.forwards_caller(),
            EngineSettings::Cq(c) => matches!(
                c.auth,
                flowgate_cq::AuthConfig::Passthrough | flowgate_cq::AuthConfig::BearerPassthrough
            ),
        }
    }

    /// Whether `/path/<mount>/rest` reaches the engine as `/rest`: Alfresco paths are
    /// relative to Company Home, while CQ payload paths keep their `/content` root.
    pub fn strips_mount(&self) -> bool {
        matches!(self, EngineSettings::Alfresco(_))
    }

    /// The upstream base URL of a remote engine.
    pub fn base_url(&self) -> Option<&url::Url> {
        match self {
            EngineSettings::Memory(_) => None,
            EngineSettings::Alfresco(a) => Some(&a.base_url),
            EngineSettings::Cq(c) => Some(&c.base_url),
        }
    }
}

/// Routing settings shared by all engine kinds.
#[derive(Clone, Debug, Default)]
pub struct CommonEngineSettings {
    /// The engine that owns unprefixed ids and the `/` document mount.
    pub default: bool,
    /// Prefix of this engine's ids (`<prefix>~<native id>`); defaults to the engine name.
    /// Ignored for the default engine, whose ids stay unprefixed.
    pub id_prefix: Option<String>,
    /// Document path prefixes served by this engine (`/alfresco`); longest wins.
    pub mounts: Vec<String>,
}
