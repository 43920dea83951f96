//! The engine conformance suite, run on the embedded engine with both shipped models.

use std::sync::Arc;

use flowgate_memory::MemoryEngine;
use flowgate_testkit::Setup;

mod fixtures;
use fixtures::{parallel, serial};

flowgate_testkit::conformance_suite!(async {
    let engine = MemoryEngine::builtin("local").expect("shipped models load");
    Setup::new(Arc::new(engine), vec![serial(), parallel()])
});
