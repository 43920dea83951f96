//! The flowgate conformance suite against the Alfresco simulator answering in the
//! shapes of the published definition: only its required fields (plus those carrying
//! state, see `flowgate_alfresco::sim::MINIMAL`), and every optional field present.

mod common;

use flowgate_alfresco::sim::{SimOptions, SimShape};
use flowgate_alfresco::AuthMode;
use flowgate_testkit::Setup;

fn setup_with(shape: SimShape) -> Setup {
    let sim = common::sim_with(SimOptions {
        shape,
        ..SimOptions::default()
    });
    let engine = common::engine(&sim, AuthMode::Ticket);
    let mut s = Setup::new(common::arc(engine), common::fixtures::fixtures());
    s.guard = Some(Box::new(sim));
    s
}

mod minimal {
    use super::*;

    async fn setup() -> Setup {
        setup_with(SimShape::Minimal)
    }

    flowgate_testkit::conformance_suite!(setup());
}

mod full {
    use super::*;

    async fn setup() -> Setup {
        setup_with(SimShape::Full)
    }

    flowgate_testkit::conformance_suite!(setup());
}
