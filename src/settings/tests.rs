//! Loading settings: defaults, overlays, environment and the rules between values.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Sources {
    Sources {
        file: None,
        toml: None,
        env: Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
    }
}

#[test]
fn defaults_alone_are_valid() {
    let s = Settings::load(&env(&[])).unwrap();
    assert_eq!(s.server.bind, "127.0.0.1:8080");
    assert_eq!(s.server.max_body_bytes, 1024 * 1024);
    assert!(s.engines.is_empty());
}

#[test]
fn env_overrides_nested_keys() {
    let s = Settings::load(&env(&[
        ("FLOWGATE__SERVER__BIND", "0.0.0.0:9999"),
        ("FLOWGATE__SERVER__MAX_BODY_BYTES", "10"),
        ("FLOWGATE__LOG__FORMAT", "json"),
    ]))
    .unwrap();
    assert_eq!(s.server.bind, "0.0.0.0:9999");
    assert_eq!(s.server.max_body_bytes, 10);
    assert_eq!(s.log.format, "json");
}

#[test]
fn unknown_keys_are_rejected_with_their_name() {
    let err = Settings::load(&Sources::from_toml("[server]\nbindd = \"x\"\n")).unwrap_err();
    assert!(err.to_string().contains("bindd"), "{err}");
    let err = Settings::load(&Sources::from_toml(
        "[engines.a]\nkind = \"memory\"\nmodel_dir = \"x\"\n",
    ))
    .unwrap_err();
    assert!(err.to_string().contains("model_dir"), "{err}");
}

#[test]
fn unknown_engine_kind_is_rejected() {
    let err = Settings::load(&Sources::from_toml("[engines.a]\nkind = \"nope\"\n")).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn validate_names_every_bad_key() {
    let err = Settings::load(&Sources::from_toml(
        "[server]\nbind = \"nowhere\"\npublic_base_url = \"ftp:/x\"\n[nuxeo]\nproduct_version = \"latest\"\n[log]\nformat = \"xml\"\n",
    ))
    .unwrap_err();
    let msg = err.to_string();
    for key in [
        "server.bind",
        "server.public_base_url",
        "nuxeo.product_version",
        "log.format",
    ] {
        assert!(msg.contains(key), "{key} missing in {msg}");
    }
}

#[test]
fn bad_password_hash_is_reported() {
    let err = Settings::load(&Sources::from_toml(
        "[[auth.users]]\nname = \"u\"\npassword_hash = \"plain\"\n",
    ))
    .unwrap_err();
    assert!(
        err.to_string().contains("auth.users[0].password_hash"),
        "{err}"
    );
}

#[test]
fn several_engines_need_one_default_and_distinct_prefixes() {
    let err = Settings::load(&Sources::from_toml(
        "[engines.a]\nkind = \"memory\"\n[engines.b]\nkind = \"memory\"\nid_prefix = \"a\"\n",
    ))
    .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("exactly one engine"), "{msg}");
    assert!(msg.contains("engines.b.id_prefix"), "{msg}");
}

#[test]
fn missing_explicit_file_is_an_error() {
    let s = Sources {
        file: Some("/nonexistent/flowgate.toml".into()),
        ..Sources::from_toml("")
    };
    assert!(Settings::load(&s).is_err());
}

#[test]
fn user_names_keep_their_case() {
    let hash = crate::auth::cheap_hash("pw");
    let s = Settings::load(&Sources::from_toml(format!(
        "[[auth.users]]\nname = \"Administrator\"\npassword_hash = \"{hash}\"\ngroups = [\"administrators\"]\n"
    )))
    .unwrap();
    assert_eq!(s.auth.users[0].name, "Administrator");
}
