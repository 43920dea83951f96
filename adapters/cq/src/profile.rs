//! Version profiles: where a CQ / AEM release keeps models and instances, and which
//! protocol features (CSRF token, bearer auth, Touch-UI comment fields) it has.

use serde::Deserialize;

/// The CQ / AEM release family the adapter talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Deserialize)]
pub enum Profile {
    /// CQ 5.5 / 5.6: models under `/etc`, no CSRF filter, Basic auth.
    #[serde(rename = "cq5")]
    Cq5,
    /// AEM 6.0–6.3: models under `/etc`, CSRF filter from 6.1 on, Basic auth.
    #[serde(rename = "aem60-63")]
    Aem60To63,
    /// AEM 6.4 / 6.5: runtime models and instances under `/var`, CSRF, Basic auth.
    #[serde(rename = "aem64-65")]
    Aem64To65,
    /// AEM as a Cloud Service: like 6.5, with bearer tokens instead of Basic auth.
    #[serde(rename = "cloud")]
    Cloud,
}

/// Prefixes under which model pages live in any release; stripped to get a model name.
const MODEL_ROOTS: [&str; 3] = [
    "/etc/workflow/models/",
    "/var/workflow/models/",
    "/conf/global/settings/workflow/models/",
];

/// Suffix of the runtime model node on releases before 6.4.
pub(crate) const MODEL_NODE_SUFFIX: &str = "/jcr:content/model";

impl Profile {
    /// Every profile, for tests and the simulator binary.
    pub const ALL: [Profile; 4] = [
        Profile::Cq5,
        Profile::Aem60To63,
        Profile::Aem64To65,
        Profile::Cloud,
    ];

    /// The configuration spelling (`cq5`, `aem60-63`, `aem64-65`, `cloud`).
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Cq5 => "cq5",
            Profile::Aem60To63 => "aem60-63",
            Profile::Aem64To65 => "aem64-65",
            Profile::Cloud => "cloud",
        }
    }

    /// Parses the configuration spelling.
    pub fn parse(s: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// Whether runtime models and instances live under `/var` (6.4 and later).
    pub(crate) fn uses_var(self) -> bool {
        matches!(self, Profile::Aem64To65 | Profile::Cloud)
    }

    /// Whether the release may run the Granite CSRF filter (the token endpoint exists).
    /// On `aem60-63` the endpoint is probed: 6.0 answers 404 and has no filter.
    pub(crate) fn may_have_csrf(self) -> bool {
        !matches!(self, Profile::Cq5)
    }

    /// Whether the Touch-UI inbox understands `comment-<item>` fields.
    pub(crate) fn has_touch_inbox(self) -> bool {
        matches!(self, Profile::Aem64To65 | Profile::Cloud)
    }

    /// Whether JSON renderings carry HTML-escaped `*_xss` twin fields.
    #[cfg_attr(not(feature = "sim"), allow(dead_code))]
    pub(crate) fn has_xss_twins(self) -> bool {
        !matches!(self, Profile::Cq5)
    }

    /// Root of the instance tree.
    pub(crate) fn instance_root(self) -> &'static str {
        if self.uses_var() {
            "/var/workflow/instances"
        } else {
            "/etc/workflow/instances"
        }
    }

    /// The runtime model id posted as `model` when starting, for a model name.
    pub(crate) fn model_id(self, name: &str) -> String {
        if self.uses_var() {
            format!("/var/workflow/models/{name}")
        } else {
            format!("/etc/workflow/models/{name}{MODEL_NODE_SUFFIX}")
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Normalises a model uri or runtime id to a model name: strips the model root and a
/// trailing `/jcr:content/model`. Returns `None` for paths outside every model root.
pub(crate) fn model_name_of(uri: &str) -> Option<String> {
    let rest = MODEL_ROOTS.iter().find_map(|r| uri.strip_prefix(r))?;
    let rest = rest.strip_suffix(MODEL_NODE_SUFFIX).unwrap_or(rest);
    let rest = rest.trim_end_matches('/');
    if rest.is_empty() {
        None
    } else {
        Some(rest.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_uris_of_every_shape_normalise_to_the_same_name() {
        for uri in [
            "/etc/workflow/models/publish_example",
            "/etc/workflow/models/publish_example/jcr:content/model",
            "/var/workflow/models/publish_example",
            "/conf/global/settings/workflow/models/publish_example",
        ] {
            assert_eq!(
                model_name_of(uri).as_deref(),
                Some("publish_example"),
                "{uri}"
            );
        }
        assert_eq!(
            model_name_of("/var/workflow/models/dam/update_asset").as_deref(),
            Some("dam/update_asset")
        );
        assert_eq!(model_name_of("/content/x"), None);
    }

    #[test]
    fn runtime_model_ids_follow_the_profile() {
        assert_eq!(
            Profile::Cq5.model_id("a"),
            "/etc/workflow/models/a/jcr:content/model"
        );
        assert_eq!(Profile::Cloud.model_id("a"), "/var/workflow/models/a");
    }

    #[test]
    fn profiles_parse_their_own_spelling() {
        for p in Profile::ALL {
            assert_eq!(Profile::parse(p.as_str()), Some(p));
        }
    }
}
