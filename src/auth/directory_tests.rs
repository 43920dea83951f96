//! Unit tests of password checks, the credentials cache and tokens.

use super::*;
use crate::settings::{Settings, Sources};

#[test]
fn hash_password_output_verifies() {
    let h = hash_password("pw").unwrap();
    let parsed = PasswordHash::new(&h).unwrap();
    assert!(Argon2::default().verify_password(b"pw", &parsed).is_ok());
    assert!(Argon2::default().verify_password(b"px", &parsed).is_err());
}

fn dir() -> Directory {
    let h = cheap_hash("secret");
    let s = Settings::load(&Sources::from_toml(format!(
        "[[auth.users]]\nname = \"Administrator\"\npassword_hash = \"{h}\"\ngroups = [\"administrators\"]\n\
         [[auth.users]]\nname = \"jdoe\"\npassword_hash = \"{h}\"\ngroups = [\"members\"]\n\
         [[auth.groups]]\nname = \"members\"\nlabel = \"Members group\"\n"
    )))
    .unwrap();
    Directory::new(&s.auth)
}

const WAIT: Duration = Duration::from_secs(10);

fn b64(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

#[actix_web::test]
async fn right_password_verifies_and_is_cached() {
    let d = dir();
    let name = |u: Option<&Arc<User>>| u.map(|u| u.name.clone());
    assert_eq!(
        name(d.verify_basic(&b64("jdoe", "secret"), WAIT).await.unwrap()).as_deref(),
        Some("jdoe")
    );
    assert_eq!(d.verified.len(), 1);
    assert_eq!(
        name(d.verify_basic(&b64("jdoe", "secret"), WAIT).await.unwrap()).as_deref(),
        Some("jdoe")
    );
    assert!(d
        .verify_basic(&b64("jdoe", "wrong"), WAIT)
        .await
        .unwrap()
        .is_none());
    assert!(d
        .verify_basic(&b64("nobody", "secret"), WAIT)
        .await
        .unwrap()
        .is_none());
    assert!(d.verify_basic("not base64!", WAIT).await.unwrap().is_none());
    assert!(d
        .verify_basic(
            &base64::engine::general_purpose::STANDARD.encode("jdoe"),
            WAIT
        )
        .await
        .unwrap()
        .is_none());
    assert_eq!(d.verified.len(), 1);
}

/// A directory of `users` users (`u0`, `u1`, …) with one password, checking at most
/// `slots` passwords at once. The hash costs a few milliseconds even in a debug
/// build, so that checks started together overlap unless something holds them back.
fn dir_with(users: usize, slots: usize) -> Directory {
    let params = argon2::Params::new(2048, 1, 1, None).unwrap();
    let a = Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let salt = SaltString::encode_b64(b"unit-test-salt").unwrap();
    let h = a.hash_password(b"secret", &salt).unwrap().to_string();
    let mut toml = format!("[auth]\nmax_parallel_verifications = {slots}\n");
    for i in 0..users {
        toml.push_str(&format!(
            "[[auth.users]]\nname = \"u{i}\"\npassword_hash = \"{h}\"\n"
        ));
    }
    Directory::new(&Settings::load(&Sources::from_toml(toml)).unwrap().auth)
}

#[actix_web::test]
async fn password_checks_run_at_most_the_configured_number_at_once() {
    let d = dir_with(6, 2);
    let creds: Vec<String> = (0..6).map(|i| b64(&format!("u{i}"), "secret")).collect();
    let wrong: Vec<String> = (0..6).map(|i| b64(&format!("u{i}"), "nope")).collect();
    let all =
        futures::future::join_all(creds.iter().chain(&wrong).map(|c| d.verify_basic(c, WAIT)))
            .await;
    assert_eq!(all.iter().filter(|u| matches!(u, Ok(Some(_)))).count(), 6);
    let (total, peak) = d.check_counts();
    assert_eq!(total, 12, "every distinct credential is checked once");
    assert!(peak <= 2, "{peak} checks ran at once, 2 allowed");
}

#[actix_web::test]
async fn logins_waiting_for_a_check_of_the_same_credentials_reuse_its_result() {
    let d = dir_with(1, 1);
    let c = b64("u0", "secret");
    let all = futures::future::join_all((0..8).map(|_| d.verify_basic(&c, WAIT))).await;
    assert!(all.iter().all(|u| matches!(u, Ok(Some(_)))));
    assert_eq!(d.check_counts().0, 1, "argon2 ran once for eight logins");
}

#[actix_web::test]
async fn a_check_that_finds_no_free_slot_in_time_is_refused_with_503() {
    let d = dir_with(2, 1);
    assert!(d
        .verify_basic(&b64("u0", "secret"), WAIT)
        .await
        .unwrap()
        .is_some());
    let held = d.verify_slots.acquire().await.unwrap();
    let short = Duration::from_millis(30);
    // Bounded here too, so that a regression fails instead of hanging.
    let err = tokio::time::timeout(WAIT, d.verify_basic(&b64("u1", "secret"), short))
        .await
        .expect("refused within the wait, not queued")
        .map(|_| ())
        .unwrap_err();
    assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE);
    // Credentials already verified need no slot.
    assert!(d
        .verify_basic(&b64("u0", "secret"), short)
        .await
        .unwrap()
        .is_some());
    drop(held);
    assert!(d
        .verify_basic(&b64("u1", "secret"), short)
        .await
        .unwrap()
        .is_some());
}

#[actix_web::test]
async fn cache_entry_of_one_user_does_not_admit_another() {
    let d = dir();
    assert!(d
        .verify_basic(&b64("jdoe", "secret"), WAIT)
        .await
        .unwrap()
        .is_some());
    // Same password, different user: a separate entry, verified on its own.
    let admin = d
        .verify_basic(&b64("Administrator", "secret"), WAIT)
        .await
        .unwrap();
    assert_eq!(
        admin.map(|u| u.name.clone()).as_deref(),
        Some("Administrator")
    );
    assert_eq!(d.verified.len(), 2);
}

#[test]
fn admin_flag_comes_from_the_admin_group() {
    let d = dir();
    assert!(d.user("Administrator").unwrap().admin);
    assert!(!d.user("jdoe").unwrap().admin);
    assert_eq!(d.group("members").unwrap().label, "Members group");
    assert_eq!(d.group("administrators").unwrap().label, "administrators");
}

#[actix_web::test]
async fn tokens_sign_in_their_user_until_revoked() {
    let d = dir();
    let issue = |device: &str, permission: &str| {
        d.tokens()
            .issue(&tokens::TokenRequest {
                user: "jdoe".into(),
                application: "app".into(),
                device_id: device.into(),
                device_description: None,
                permission: permission.into(),
            })
            .unwrap()
    };
    let t1 = issue("dev1", "rw");
    let t2 = issue("dev2", "r");
    assert_ne!(t1, t2);
    let (u, read_only) = d.user_of_token(&t1).await.unwrap().unwrap();
    assert_eq!((u.name.as_str(), read_only), ("jdoe", false));
    assert!(d.user_of_token(&t2).await.unwrap().unwrap().1);
    assert!(d.tokens().revoke("jdoe", "app", "dev1").unwrap());
    assert!(d.user_of_token(&t1).await.unwrap().is_none());
    assert!(!d.tokens().revoke("jdoe", "app", "dev1").unwrap());
}

#[test]
fn a_bad_token_ttl_stops_the_start() {
    let mut s = Settings::load(&Sources::from_toml(String::new()))
        .unwrap()
        .auth;
    s.token_ttl = Some("forever".into());
    assert!(Directory::build(&s).unwrap_err().contains("token_ttl"));
    s.token_ttl = Some("30d".into());
    assert!(Directory::build(&s).is_ok());
    // `check-config` names it too.
    let loaded = Settings::load(&Sources::from_toml("[auth]\ntoken_ttl = \"forever\"\n"))
        .and_then(|s| s.validate().map(|()| s));
    assert!(format!("{:?}", loaded.err()).contains("auth.token_ttl"));
}
