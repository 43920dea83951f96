//! The engine conformance suite against the simulator served over https, for the
//! AEM 6.4-6.5 (Basic auth, CSRF) and Cloud (bearer) profiles.

mod common;

mod aem64_65 {
    flowgate_testkit::conformance_suite!(crate::common::setup_https(
        flowgate_cq::Profile::Aem64To65
    ));
}

mod cloud {
    flowgate_testkit::conformance_suite!(crate::common::setup_https(flowgate_cq::Profile::Cloud));
}
