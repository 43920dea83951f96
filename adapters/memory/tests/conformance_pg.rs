//! The engine conformance suite on the embedded engine with PostgreSQL storage, each
//! case on a schema of its own (see `flowgate_testkit::pg`).

use std::sync::Arc;

use flowgate_core::Limits;
use flowgate_memory::pg::{PgEngine, PgOptions};
use flowgate_memory::ModelSource;
use flowgate_testkit::pg::TestSchema;
use flowgate_testkit::Setup;

mod fixtures;
use fixtures::{parallel, serial};

flowgate_testkit::conformance_suite!(async {
    let Some(schema) = TestSchema::new() else {
        return Setup::new(
            Arc::new(flowgate_memory::MemoryEngine::builtin("local").expect("models load")),
            Vec::new(),
        );
    };
    let mut options = PgOptions::new(schema.url.clone());
    options.schema = Some(schema.name.clone());
    options.pool_size = 8;
    let engine = PgEngine::open("local", ModelSource::Builtin, &options, Limits::default())
        .expect("the test database is reachable");
    let mut setup = Setup::new(Arc::new(engine), vec![serial(), parallel()]);
    setup.guard = Some(Box::new(schema));
    setup
});
