//! `flowgate migrate` with the real binary: it applies the schema of the engines on
//! PostgreSQL; `serve` with `migrate_on_start = false` refuses an unmigrated database
//! and starts once it is migrated; a database whose schema is newer than the binary
//! is refused with a message saying so; `--from <data_dir> --to <url>` copies a redb
//! store that `serve` then answers from.

use std::process::{Command, Output};

use flowgate_testkit::pg::TestSchema;

mod process;
mod replica_support;
use replica_support::{client, open_tasks, send, start_review, write_config, Replica};

fn flowgate(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(process::BIN)
        .args(args)
        .env_remove("FLOWGATE_CONFIG")
        .envs(env.iter().copied())
        .output()
        .expect("run flowgate")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

async fn psql(url: &str, schema: &str, sql: &str) {
    use sqlx::Connection;
    let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
    sqlx::query(&format!("SET search_path TO {schema}"))
        .execute(&mut c)
        .await
        .expect("search path");
    sqlx::query(sql).execute(&mut c).await.expect(sql);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_applies_the_schema_and_serve_refuses_a_newer_one() {
    let Some(schema) = TestSchema::new() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), &schema.name, "migrate_on_start = false");
    let cfg_s = cfg.to_string_lossy().into_owned();
    let env = [(
        "FLOWGATE__ENGINES__LOCAL__DATABASE_URL",
        schema.url.as_str(),
    )];

    // Not migrated, migrations off at start: refused with the way out.
    let out = flowgate(&["check-config", "--config", &cfg_s], &env);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("flowgate migrate"), "{}", text(&out));

    let out = flowgate(&["migrate", "--config", &cfg_s], &env);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("engine 'local': database schema at version 1"),
        "{}",
        text(&out)
    );
    // Twice is fine.
    let out = flowgate(&["migrate", "--config", &cfg_s], &env);
    assert!(out.status.success(), "{}", text(&out));
    let out = flowgate(&["check-config", "--config", &cfg_s], &env);
    assert!(out.status.success(), "{}", text(&out));
    // The URL never shows in what the commands print.
    assert!(!text(&out).contains("flowgate-test-only"), "{}", text(&out));

    // A schema from a newer flowgate: refused, whatever migrate_on_start says.
    psql(
        &schema.url,
        &schema.name,
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99, 'from a newer flowgate', true, '\\x00'::bytea, 0)",
    )
    .await;
    for extra in ["migrate_on_start = false", "migrate_on_start = true"] {
        let cfg = write_config(dir.path(), &schema.name, extra);
        let out = flowgate(&["check-config", "--config", &cfg.to_string_lossy()], &env);
        assert!(!out.status.success(), "{}", text(&out));
        assert!(
            text(&out).contains("schema is at version 99, newer than this flowgate"),
            "{}",
            text(&out)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_from_a_redb_directory_then_serve_from_postgres() {
    let Some(schema) = TestSchema::new() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    // A workflow started on redb.
    let redb_cfg = dir.path().join("redb.toml");
    let pg_cfg = write_config(dir.path(), &schema.name, "");
    let text_cfg = std::fs::read_to_string(&pg_cfg).expect("config").replace(
        &format!(
            "storage = \"postgres\"\ndatabase_schema = \"{}\"\npool_size = 8\n",
            schema.name
        ),
        &format!("storage = \"redb\"\ndata_dir = \"{}\"\n", data.display()),
    );
    let text_cfg = text_cfg
        .lines()
        .filter(|l| !l.starts_with("acquire_timeout_ms") && !l.starts_with("statement_timeout_ms"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(&redb_cfg, text_cfg).expect("config");
    let c = client();
    let wf = {
        let r = Replica::start(&redb_cfg, &dir.path().join("redb.log"), "");
        start_review(&c, &r.base(), "doc-moved").await
    };
    let out = flowgate(
        &[
            "migrate",
            "--from",
            &data.to_string_lossy(),
            "--schema",
            &schema.name,
        ],
        &[("FLOWGATE_MIGRATE_TO", schema.url.as_str())],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("copied 1 workflows, 1 tasks"),
        "{}",
        text(&out)
    );
    let r = Replica::start(&pg_cfg, &dir.path().join("pg.log"), &schema.url);
    let (status, body) = send(c.get(format!("{}/workflow/{wf}", r.base()))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(open_tasks(&c, &r.base(), &wf).await.len(), 1);
}
