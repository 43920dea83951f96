//! The flowgate conformance suite against the Alfresco simulator, with one fixture per
//! built-in definition, in service-account (ticket) mode.

mod common;

use flowgate_alfresco::AuthMode;
use flowgate_testkit::Setup;

async fn setup() -> Setup {
    let sim = common::sim();
    let engine = common::engine(&sim, AuthMode::Ticket);
    let mut s = Setup::new(common::arc(engine), common::fixtures::fixtures());
    s.guard = Some(Box::new(sim));
    s
}

flowgate_testkit::conformance_suite!(setup());
