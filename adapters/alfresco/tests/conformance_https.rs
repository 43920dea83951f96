//! The conformance suite against the Alfresco simulator served over https, with a CA
//! made at test time that the adapter trusts through `ca_file`.

mod common;

use flowgate_alfresco::sim::SimOptions;
use flowgate_alfresco::AuthMode;
use flowgate_testkit::tls::{pem_file, Ca};
use flowgate_testkit::Setup;

async fn setup() -> Setup {
    let ca = Ca::new("flowgate alfresco test CA").expect("CA");
    let sim = common::sim_with(SimOptions {
        tls: Some(ca.server_tls(None).expect("server certificate")),
        ..SimOptions::default()
    });
    assert!(
        sim.base_url.starts_with("https://127.0.0.1:"),
        "{}",
        sim.base_url
    );
    let ca_file = pem_file(&ca.pem()).expect("CA file");
    let mut cfg = common::config(&sim, AuthMode::Ticket);
    cfg.http.ca_file = Some(ca_file.path().to_owned());
    let engine = common::engine_from(cfg);
    let mut s = Setup::new(common::arc(engine), common::fixtures::fixtures());
    s.guard = Some(Box::new((sim, ca_file)));
    s
}

flowgate_testkit::conformance_suite!(setup());
