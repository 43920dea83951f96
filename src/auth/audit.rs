//! Audit events of authentication, all under the tracing target [`TARGET`]: one per
//! failed sign-in and one per token issued or revoked. They name the user, the client
//! address and what happened; never a password, a token or a credentials header.
//!
//! User names of failed sign-ins are whatever the client sent: they are cut to 64
//! characters and written quoted (control characters escaped), so that they cannot
//! forge log lines.

use flowgate_core::shown;

/// The tracing target of every audit event (`RUST_LOG=flowgate::audit=info`).
pub const TARGET: &str = "flowgate::audit";

/// A client address for the audit, `-` when unknown.
fn client_or_dash(client: Option<&str>) -> &str {
    client.unwrap_or("-")
}

/// A sign-in was refused. `kind`: `basic`, `token` or `bearer`; `reason`: one of the
/// gateway's fixed sentences (`unknown user`, `wrong password`, `throttled`, ...).
pub fn sign_in_failed(kind: &str, user: Option<&str>, client: Option<&str>, reason: &str) {
    let user = user.map(shown).unwrap_or_default();
    tracing::warn!(
        target: TARGET,
        event = "sign_in_failed",
        kind,
        user = ?user,
        client = client_or_dash(client),
        reason,
        "sign-in failed"
    );
}

/// A token was issued to `user` for (application, device).
pub fn token_issued(user: &str, application: &str, device: &str, client: Option<&str>) {
    tracing::info!(
        target: TARGET,
        event = "token_issued",
        user = ?shown(user),
        application = ?shown(application),
        device = ?shown(device),
        client = client_or_dash(client),
        "token issued"
    );
}

/// The token of (user, application, device) was revoked.
pub fn token_revoked(user: &str, application: &str, device: &str, client: Option<&str>) {
    tracing::info!(
        target: TARGET,
        event = "token_revoked",
        user = ?shown(user),
        application = ?shown(application),
        device = ?shown(device),
        client = client_or_dash(client),
        "token revoked"
    );
}
