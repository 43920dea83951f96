//! Tests of the `[[webhooks]]` settings.

use super::*;

#[test]
fn spans_take_a_unit() {
    assert_eq!(parse_span("24h").unwrap(), Duration::from_secs(86_400));
    assert_eq!(parse_span(" 500ms ").unwrap(), Duration::from_millis(500));
    assert_eq!(parse_span("2d").unwrap(), Duration::from_secs(172_800));
    for bad in [
        "",
        "24",
        "h",
        "0s",
        "1w",
        "-1s",
        "1.5h",
        "99999999999999999999d",
    ] {
        assert!(parse_span(bad).is_err(), "{bad}");
    }
}

use crate::settings::{Settings, Sources};

/// An example secret (32 bytes of 0x2a), for tests only.
const SECRET: &str = "whsec_KioqKioqKioqKioqKioqKioqKioqKioqKioqKio=";

fn load(toml: &str, env: &[(&str, &str)]) -> Result<Settings, String> {
    Settings::load(&Sources {
        file: None,
        toml: Some(toml.to_owned()),
        env: Some(
            env.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
    })
    .map_err(|e| e.to_string())
}

#[test]
fn endpoints_load_in_both_forms_with_defaults() {
    let s = load(
        &format!("[[webhooks]]\nname = \"crm\"\nurl = \"https://crm.example/in\"\nsecret = \"{SECRET}\"\n"),
        &[],
    )
    .unwrap();
    let e = &s.webhooks.endpoints[0];
    assert_eq!((e.name.as_str(), e.max_age.as_str()), ("crm", "24h"));
    assert_eq!(s.webhooks.state_dir, None);
    assert_eq!(
        s.webhooks.delivery_niceness(),
        19,
        "the lowest priority by default"
    );
    let eps = s.webhooks.resolve(&["local".into()], &|_| None).unwrap();
    assert_eq!(eps[0].max_age, Duration::from_secs(86_400));
    assert_eq!(eps[0].start, Start::Oldest);
    assert!(
        !format!("{:?}", s.webhooks).contains("whsec"),
        "Debug shows no secret"
    );

    let s = load(
        &format!(
            "[webhooks]\nstate_dir = \"/tmp/hooks\"\nniceness = 0\n[[webhooks.endpoints]]\nname = \"a\"\n\
             url = \"https://a.example/\"\nsecret = \"{SECRET}\"\nevents = [\"afterWorkflowTaskCreated\"]\n"
        ),
        &[],
    )
    .unwrap();
    assert_eq!(s.webhooks.state_dir, Some(PathBuf::from("/tmp/hooks")));
    assert_eq!(s.webhooks.delivery_niceness(), 0);
    assert_eq!(
        s.webhooks.endpoints[0].events,
        vec!["afterWorkflowTaskCreated"]
    );
    assert!(load("", &[]).unwrap().webhooks.endpoints.is_empty());
}

#[test]
fn plain_http_is_refused_without_the_insecure_setting() {
    let toml = format!(
        "[[webhooks]]\nname = \"a\"\nurl = \"http://127.0.0.1:9/in?token=t0p\"\nsecret = \"{SECRET}\"\n"
    );
    let err = load(&toml, &[]).unwrap_err();
    assert!(
        err.contains("webhooks[0].url") && err.contains("allow_plain_http"),
        "{err}"
    );
    assert!(!err.contains("t0p"), "the query is not shown: {err}");
    load(&format!("{toml}allow_plain_http = true\n"), &[]).unwrap();
}

#[test]
fn bad_values_name_their_key_and_never_the_secret() {
    let err = load(
        "[[webhooks]]\nname = \"a b\"\nurl = \"not a url\"\nsecret = \"whsec_c2hvcnQ=\"\n\
         events = [\"documentModified\"]\nengines = [\"nope\"]\nmax_age = \"1w\"\n\
         backoff_base = \"1h\"\nbackoff_cap = \"1m\"\nstart = \"never\"\n\
         [[webhooks]]\nname = \"b\"\nurl = \"ftp://x.example/\"\n",
        &[],
    )
    .unwrap_err();
    for key in [
        "webhooks[0].name",
        "webhooks[0].url",
        "webhooks[0].secret",
        "webhooks[0].events",
        "webhooks[0].engines",
        "webhooks[0].max_age",
        "webhooks[0].backoff_base",
        "webhooks[0].start",
        "webhooks[1].url",
        "webhooks[1].secret: required",
    ] {
        assert!(err.contains(key), "{key} missing in {err}");
    }
    assert!(!err.contains("c2hvcnQ"), "{err}");
    let err = load(
        &format!("[[webhooks]]\nname = \"a\"\nurl = \"https://a.example/\"\nsecret = \"{SECRET}\"\n[[webhooks]]\nname = \"a\"\nurl = \"https://b.example/\"\nsecret = \"{SECRET}\"\nbogus = 1\n"),
        &[],
    )
    .unwrap_err();
    assert!(err.contains("bogus"), "{err}");
    for bad in ["-1", "20"] {
        let err = load(
            &format!("[webhooks]\nniceness = {bad}\n[[webhooks.endpoints]]\nname = \"a\"\nurl = \"https://a.example/\"\nsecret = \"{SECRET}\"\n"),
            &[],
        )
        .unwrap_err();
        assert!(
            err.contains(&format!("webhooks.niceness: {bad} is not between 0")),
            "{err}"
        );
    }
}

#[test]
fn the_environment_reaches_an_endpoint_by_name() {
    let toml = "[[webhooks]]\nname = \"crm-main\"\nurl = \"https://crm.example/in\"\n";
    let err = load(toml, &[]).unwrap_err();
    assert!(err.contains("webhooks[0].secret"), "{err}");
    let s = load(
        toml,
        &[
            ("FLOWGATE__WEBHOOKS__CRM_MAIN__SECRET", SECRET),
            (
                "FLOWGATE__WEBHOOKS__CRM_MAIN__EVENTS",
                "afterWorkflowStarted,afterWorkflowFinish",
            ),
            ("FLOWGATE__WEBHOOKS__0__REQUEST_TIMEOUT_MS", "1500"),
            ("FLOWGATE__WEBHOOKS__STATE_DIR", "/var/lib/flowgate-hooks"),
            ("FLOWGATE__WEBHOOKS__NICENESS", "5"),
            ("FLOWGATE__SERVER__BIND", "127.0.0.1:9999"),
        ],
    )
    .unwrap();
    let e = &s.webhooks.endpoints[0];
    assert_eq!(e.secret.as_ref().map(Secret::expose), Some(SECRET));
    assert_eq!(e.events.len(), 2);
    assert_eq!(e.request_timeout_ms, 1500);
    assert_eq!(
        s.webhooks.state_dir,
        Some(PathBuf::from("/var/lib/flowgate-hooks"))
    );
    assert_eq!(s.webhooks.delivery_niceness(), 5);
    assert_eq!(
        s.server.bind, "127.0.0.1:9999",
        "other variables still apply"
    );
    let err = load(toml, &[("FLOWGATE__WEBHOOKS__OTHER__SECRET", SECRET)]).unwrap_err();
    assert!(
        err.contains("FLOWGATE__WEBHOOKS__OTHER__SECRET") && err.contains("'other'"),
        "{err}"
    );
    assert!(!err.contains(SECRET), "{err}");
}

#[test]
fn a_secret_may_come_from_a_named_variable() {
    let s = load(
        "[[webhooks]]\nname = \"a\"\nurl = \"https://a.example/\"\nsecret_env = \"HOOK_SECRET\"\n",
        &[],
    )
    .unwrap();
    let engines = ["local".to_owned()];
    let err = s.webhooks.resolve(&engines, &|_| None).unwrap_err();
    assert!(
        err[0].contains("webhooks[0].secret_env") && err[0].contains("HOOK_SECRET"),
        "{err:?}"
    );
    let err = s
        .webhooks
        .resolve(&engines, &|_| Some("whsec_bad".into()))
        .unwrap_err();
    assert!(
        err[0].starts_with("webhooks[0].secret_env (HOOK_SECRET)"),
        "{err:?}"
    );
    assert_eq!(
        s.webhooks
            .resolve(&engines, &|v| (v == "HOOK_SECRET").then(|| SECRET.into()))
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn urls_are_shown_without_credentials_or_query() {
    assert_eq!(
        redact_url("https://u:p@hooks.example/in?token=abc#x"),
        "https://hooks.example/in?…"
    );
    assert_eq!(
        redact_url("https://hooks.example/in"),
        "https://hooks.example/in"
    );
}

/// Another example secret (32 bytes of 0x2b), for tests only.
const OTHER_SECRET: &str = "whsec_KysrKysrKysrKysrKysrKysrKysrKysrKysrKys=";

#[test]
fn a_rotation_signs_with_the_new_and_the_previous_secret() {
    let engines = ["local".to_owned()];
    let toml = format!(
        "[[webhooks]]\nname = \"a\"\nurl = \"https://a.example/\"\nsecret = \"{SECRET}\"\n"
    );
    let key = |s: &str| SigningKey::from_whsec(s).unwrap();
    let (id, ts, body) = ("msg_1", 1_700_000_000, b"{}".as_slice());

    // Without a previous secret: one signature.
    let s = load(&toml, &[]).unwrap();
    let ep = &s.webhooks.resolve(&engines, &|_| None).unwrap()[0];
    assert_eq!(ep.signature(id, ts, body), key(SECRET).sign(id, ts, body));

    // The previous secret from the environment: the new signature, then the old one.
    let env = [("FLOWGATE__WEBHOOKS__A__PREVIOUS_SECRET", OTHER_SECRET)];
    let s = load(&toml, &env).unwrap();
    let ep = &s.webhooks.resolve(&engines, &|_| None).unwrap()[0];
    let header = ep.signature(id, ts, body);
    let parts: Vec<&str> = header.split(' ').collect();
    assert_eq!(
        parts,
        [
            key(SECRET).sign(id, ts, body),
            key(OTHER_SECRET).sign(id, ts, body)
        ]
    );
    assert!(!format!("{ep:?}").contains(OTHER_SECRET));

    // From a named variable; the same secret twice signs once.
    let named = format!("{toml}previous_secret_env = \"OLD_HOOK_SECRET\"\n");
    let s = load(&named, &[]).unwrap();
    let err = s.webhooks.resolve(&engines, &|_| None).unwrap_err();
    assert!(
        err[0].contains("webhooks[0].previous_secret_env") && err[0].contains("OLD_HOOK_SECRET"),
        "{err:?}"
    );
    let same = s
        .webhooks
        .resolve(&engines, &|v| {
            (v == "OLD_HOOK_SECRET").then(|| SECRET.into())
        })
        .unwrap();
    assert_eq!(
        same[0].signature(id, ts, body),
        key(SECRET).sign(id, ts, body)
    );

    // Both spellings at once, or a malformed value: refused, naming the key, never the value.
    let both = format!("{named}previous_secret = \"{OTHER_SECRET}\"\n");
    let err = load(&both, &[]).unwrap_err();
    assert!(
        err.contains("webhooks[0].previous_secret: give either"),
        "{err}"
    );
    assert!(!err.contains(OTHER_SECRET), "{err}");
    let bad = "whsec_c2hvcnQ=";
    let err = load(&format!("{toml}previous_secret = \"{bad}\"\n"), &[]).unwrap_err();
    assert!(err.contains("webhooks[0].previous_secret:"), "{err}");
    assert!(!err.contains(bad), "{err}");
}
