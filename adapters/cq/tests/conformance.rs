//! The engine conformance suite against the simulator, once per version profile.

mod common;

mod cq5 {
    flowgate_testkit::conformance_suite!(crate::common::setup(flowgate_cq::Profile::Cq5));
}

mod aem60_63 {
    flowgate_testkit::conformance_suite!(crate::common::setup(flowgate_cq::Profile::Aem60To63));
}

mod aem64_65 {
    flowgate_testkit::conformance_suite!(crate::common::setup(flowgate_cq::Profile::Aem64To65));
}

mod cloud {
    flowgate_testkit::conformance_suite!(crate::common::setup(flowgate_cq::Profile::Cloud));
}

/// AEM 6.5 answering with only the fields Adobe's published material shows: no start
/// metadata, no `currentAssignee` in work items, no `workItem` in history rows.
mod aem64_65_minimal {
    flowgate_testkit::conformance_suite!(crate::common::setup_with(crate::common::minimal(
        flowgate_cq::Profile::Aem64To65
    )));
}

mod cq5_minimal {
    flowgate_testkit::conformance_suite!(crate::common::setup_with(crate::common::minimal(
        flowgate_cq::Profile::Cq5
    )));
}
