//! The OpenAPI description: it parses, it describes exactly the routes the application
//! serves, it covers Nuxeo's published workflow API, its entity schemas match what the
//! gateway really answers, and the explorer and JSON need no credentials.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use actix_web::http::{Method, StatusCode};
use actix_web::test::{self, TestRequest};
use actix_web::web;
use common::{settings, TestGateway};
use flowgate::AppState;
use serde_json::{json, Value};

const NUXEO_CONTRACT: &str = "nuxeo-workflow.converted.openapi3.json";

fn nuxeo_contract() -> Value {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let copy = root.join("tests/contracts").join(NUXEO_CONTRACT);
    let text =
        std::fs::read_to_string(&copy).expect("tests/contracts copy of the Nuxeo definition");
    let v: Value = serde_json::from_str(&text).expect("Nuxeo definition is JSON");
    // CI lays shared/ beside the clone: the copy must not drift from it.
    let shared = root
        .join("../shared/contracts/nuxeo/converted")
        .join(NUXEO_CONTRACT);
    if let Ok(original) = std::fs::read_to_string(&shared) {
        let o: Value = serde_json::from_str(&original).expect("shared definition is JSON");
        assert_eq!(
            v,
            o,
            "tests/contracts copy differs from {}",
            shared.display()
        );
    }
    v
}

async fn spec() -> Value {
    let gw = TestGateway::new().await;
    let r = gw
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await
        .expect(200);
    assert!(r
        .content_type()
        .is_some_and(|c| c.starts_with("application/json")));
    r.json()
}

/// `{anything}` and `{name:regex}` → `{}`.
fn normalize(path: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in path.chars() {
        match c {
            '{' => {
                if depth == 0 {
                    out.push_str("{}");
                }
                depth += 1;
            }
            '}' => depth -= 1,
            _ if depth > 0 => {}
            _ => out.push(c),
        }
    }
    out
}

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// (method, normalized path) of every operation in an OpenAPI document, with `prefix`
/// put in front of its paths.
fn operations(doc: &Value, prefix: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if item.get(m).is_some() {
                out.insert((m.to_owned(), normalize(&format!("{prefix}{path}"))));
            }
        }
    }
    out
}

/// Full patterns of every resource of the application, read from the router's resource
/// map (actix has no listing API; its `Debug` output is the only complete view).
fn route_patterns(rmap: &actix_web::dev::ResourceMap) -> Vec<String> {
    let text = format!("{rmap:#?}");
    let lines: Vec<&str> = text.lines().collect();
    let mut stack: Vec<(usize, String)> = Vec::new();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let indent = line.len() - line.trim_start().len();
        let t = line.trim();
        if t == "ResourceMap {" {
            while stack.last().is_some_and(|(d, _)| *d >= indent) {
                stack.pop();
            }
            stack.push((indent, String::new()));
        } else if t == "patterns: Single(" && stack.last().is_some_and(|(_, p)| p.is_empty()) {
            let pat = lines
                .get(i + 1)
                .map(|l| l.trim().trim_end_matches(',').trim_matches('"').to_owned())
                .unwrap_or_default();
            if let Some(top) = stack.last_mut() {
                top.1 = if pat.is_empty() { "<root>".into() } else { pat };
            }
        } else if t == "nodes: None," {
            let full: String = stack
                .iter()
                .map(|(_, p)| p.as_str())
                .filter(|p| *p != "<root>")
                .collect();
            out.push(full);
        }
        i += 1;
    }
    out
}

/// A concrete path matching `pattern` (every parameter becomes `x`, tails `x/y`).
fn sample(pattern: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    let mut name = String::new();
    for c in pattern.chars() {
        match c {
            '{' => {
                depth += 1;
                name.clear();
            }
            '}' => {
                depth -= 1;
                out.push_str(if name.contains(":.*") { "x/y" } else { "x" });
            }
            _ if depth > 0 => name.push(c),
            _ => out.push(c),
        }
    }
    out
}

/// Routes served at a pattern: the methods that do not answer 405 (the fallback of every
/// resource) to an anonymous request.
async fn served_operations() -> BTreeSet<(String, String)> {
    let state = web::Data::new(AppState::new(settings("")).expect("state"));
    let app = test::init_service(flowgate::app(state.clone())).await;
    let probe = test::call_service(&app, TestRequest::get().uri("/api/v1/me").to_request()).await;
    let patterns = route_patterns(probe.request().resource_map());
    assert!(
        patterns.len() > 20,
        "could not read the route table: {patterns:?}"
    );
    let ctx = state.settings.server.context_path.clone();
    let mut out = BTreeSet::new();
    for p in patterns {
        for m in METHODS {
            let method = Method::from_bytes(m.to_ascii_uppercase().as_bytes()).expect("method");
            let req = TestRequest::default()
                .method(method)
                .uri(&sample(&p))
                .to_request();
            let status = match test::try_call_service(&app, req).await {
                Ok(r) => r.status(),
                Err(e) => e.as_response_error().status_code(),
            };
            if status == StatusCode::METHOD_NOT_ALLOWED {
                continue;
            }
            // Aliases of the same tree: the context path mounts and `repo/{repo}`.
            let mut path = p.clone();
            for alias in [format!("{ctx}/site/api/v1"), format!("{ctx}/api/v1")] {
                if !ctx.is_empty() && path.starts_with(&alias) {
                    path = format!("/api/v1{}", &path[alias.len()..]);
                }
            }
            if !ctx.is_empty() && path.starts_with(&format!("{ctx}/")) {
                path = path[ctx.len()..].to_owned();
            }
            path = path.replace("/api/v1/repo/{repo}/", "/api/v1/");
            out.insert((m.to_owned(), normalize(&path)));
        }
    }
    out
}

#[actix_web::test]
async fn spec_is_openapi_3_1_and_every_reference_resolves() {
    let v = spec().await;
    assert!(v["openapi"].as_str().is_some_and(|s| s.starts_with("3.1")));
    let parsed: utoipa::openapi::OpenApi =
        serde_json::from_value(v.clone()).expect("the served JSON parses as an OpenAPI document");
    assert!(parsed.paths.paths.len() > 25);
    let schemas = v["components"]["schemas"].as_object().expect("schemas");
    let text = v.to_string();
    let mut refs = 0;
    for piece in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().unwrap_or_default();
        assert!(schemas.contains_key(name), "dangling $ref to {name}");
        refs += 1;
    }
    assert!(refs > 20, "too few references: {refs}");
    let schemes = v["components"]["securitySchemes"]
        .as_object()
        .expect("securitySchemes");
    assert_eq!(schemes["basicAuth"]["scheme"], "basic");
    assert_eq!(schemes["token"]["name"], "X-Authentication-Token");
    let mut ids = BTreeSet::new();
    for item in v["paths"].as_object().unwrap().values() {
        for m in METHODS {
            if let Some(op) = item.get(m) {
                let id = op["operationId"].as_str().expect("operationId").to_owned();
                assert!(ids.insert(id.clone()), "duplicate operationId {id}");
                assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()));
            }
        }
    }
}

#[actix_web::test]
async fn every_served_route_is_described_and_nothing_described_is_missing() {
    let described = operations(&spec().await, "");
    let mut served = served_operations().await;
    // The explorer's own scripts and style sheets are not part of the API.
    served.retain(|(_, p)| p != "/api/v1/doc/{}");
    let undocumented: Vec<_> = served.difference(&described).collect();
    let stale: Vec<_> = described.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served but not described: {undocumented:?}"
    );
    assert!(stale.is_empty(), "described but not served: {stale:?}");
}

#[actix_web::test]
async fn nuxeo_published_workflow_api_is_served_and_described() {
    let nuxeo = nuxeo_contract();
    let ours = spec().await;
    let ours_ops = operations(&ours, "");
    let served = served_operations().await;
    let mut checked = 0;
    for (path, item) in nuxeo["paths"].as_object().expect("paths") {
        let full = format!("/api/v1{path}");
        for m in METHODS {
            let Some(op) = item.get(m) else { continue };
            let key = (m.to_owned(), normalize(&full));
            assert!(served.contains(&key), "Nuxeo's {m} {path} is not served");
            assert!(
                ours_ops.contains(&key),
                "Nuxeo's {m} {path} is not described"
            );
            let mine = &ours["paths"][&full][m];
            assert!(
                mine.is_object(),
                "{m} {full}: described under other parameter names"
            );
            let names: BTreeSet<(String, String)> = mine["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| {
                            (
                                p["name"].as_str().unwrap_or_default().to_owned(),
                                p["in"].as_str().unwrap_or_default().to_owned(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            for p in op["parameters"].as_array().into_iter().flatten() {
                let want = (
                    p["name"].as_str().unwrap_or_default().to_owned(),
                    p["in"].as_str().unwrap_or_default().to_owned(),
                );
                assert!(
                    names.contains(&want),
                    "{m} {full}: parameter {want:?} missing"
                );
            }
            if op.get("requestBody").is_some() {
                assert!(
                    mine.get("requestBody").is_some(),
                    "{m} {full}: request body not described"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(
        checked, 19,
        "every operation of the Nuxeo definition was checked"
    );
}

#[actix_web::test]
async fn explorer_and_spec_are_served_without_credentials() {
    let gw = TestGateway::new().await;
    for path in ["/api/v1/doc", "/api/v1/doc/"] {
        let r = gw.call(Method::GET, path, None, None).await.expect(200);
        assert!(r.content_type().is_some_and(|c| c.starts_with("text/html")));
        let html = r.text();
        assert!(html.contains("/api/v1/doc/swagger-ui.css"), "{html}");
        assert!(!html.contains("\"./"), "relative asset links left: {html}");
    }
    let init = gw
        .call(
            Method::GET,
            "/api/v1/doc/swagger-initializer.js",
            None,
            None,
        )
        .await
        .expect(200);
    assert!(
        init.text().contains("/api/v1/openapi.json"),
        "{}",
        init.text()
    );
    for asset in ["swagger-ui.css", "swagger-ui-bundle.js"] {
        let r = gw
            .call(Method::GET, &format!("/api/v1/doc/{asset}"), None, None)
            .await
            .expect(200);
        assert!(r.body.len() > 1000, "{asset} is too small");
    }
    gw.call(Method::GET, "/api/v1/doc/nothing.js", None, None)
        .await
        .expect_exception(404);
    gw.call(Method::POST, "/api/v1/openapi.json", None, None)
        .await
        .expect_exception(405);
}

#[test]
fn cli_prints_the_served_description() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowgate"))
        .arg("openapi")
        .output()
        .expect("run flowgate openapi");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let served: Value = serde_json::from_str(flowgate::openapi::spec_json()).unwrap();
    assert_eq!(printed, served);
}

/// Resolves `$ref`s and merges `allOf` parts into one object schema.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> Vec<&'a Value> {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        return resolve(doc, &doc["components"]["schemas"][name]);
    }
    if let Some(parts) = schema["allOf"].as_array() {
        return parts.iter().flat_map(|p| resolve(doc, p)).collect();
    }
    vec![schema]
}

/// Checks that `value` has only documented properties and every required one, recursively. `oneOf`
/// alternatives (nullable values) are tried in turn.
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(alts) = schema["oneOf"].as_array() {
        if value.is_null() {
            return Ok(());
        }
        let errs: Vec<String> = alts
            .iter()
            .filter(|a| a["type"] != "null")
            .map(|a| conforms(doc, a, value, at))
            .filter_map(Result::err)
            .collect();
        let tried = alts.iter().filter(|a| a["type"] != "null").count();
        return if errs.len() < tried {
            Ok(())
        } else {
            Err(errs.join(" | "))
        };
    }
    let parts = resolve(doc, schema);
    let mut props = BTreeMap::new();
    let mut required = BTreeSet::new();
    let mut items = None;
    for p in &parts {
        if let Some(ps) = p["properties"].as_object() {
            props.extend(ps.iter().map(|(k, v)| (k.clone(), v)));
        }
        for r in p["required"].as_array().into_iter().flatten() {
            required.insert(r.as_str().unwrap_or_default().to_owned());
        }
        if p.get("items").is_some() {
            items = Some(&p["items"]);
        }
    }
    match value {
        Value::Object(o) if !props.is_empty() => {
            let undocumented: Vec<&String> = o
                .keys()
                .filter(|k| !props.contains_key(k.as_str()))
                .collect();
            let missing: Vec<&String> = required.iter().filter(|k| !o.contains_key(*k)).collect();
            if !undocumented.is_empty() || !missing.is_empty() {
                return Err(format!(
                    "{at}: undocumented keys {undocumented:?}, required keys missing {missing:?}"
                ));
            }
            for (k, s) in props {
                if let Some(v) = o.get(k.as_str()) {
                    conforms(doc, s, v, &format!("{at}.{k}"))?;
                }
            }
            Ok(())
        }
        Value::Array(a) => match items {
            Some(s) => a
                .iter()
                .enumerate()
                .try_for_each(|(i, v)| conforms(doc, s, v, &format!("{at}[{i}]"))),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

#[actix_web::test]
async fn documented_entities_match_real_answers() {
    let doc = spec().await;
    let gw = TestGateway::new().await;
    let schema = |name: &str| json!({ "$ref": format!("#/components/schemas/{name}") });
    let check = |name: &str, v: &Value| {
        conforms(&doc, &schema(name), v, name).unwrap_or_else(|e| panic!("{e}\n{v}"));
    };
    let wf = gw
        .start("Administrator", "SerialDocumentReview", Some("doc-1"))
        .await;
    check("WorkflowEntity", &wf);
    let id = wf["id"].as_str().unwrap();
    let task = gw.only_task("Administrator", id).await;
    check("TaskEntity", &task);
    let list = gw
        .get(
            &format!("/api/v1/task?workflowInstanceId={id}"),
            "Administrator",
        )
        .await
        .expect(200)
        .json();
    check("TaskList", &list);
    let page = gw
        .get("/api/v1/task?isPaginated=true", "Administrator")
        .await
        .expect(200)
        .json();
    check("PaginatedTaskList", &page);
    let wfs = gw
        .get("/api/v1/workflow", "Administrator")
        .await
        .expect(200)
        .json();
    check("WorkflowList", &wfs);
    let models = gw
        .get("/api/v1/workflowModel", "Administrator")
        .await
        .expect(200)
        .json();
    check("WorkflowList", &models);
    let graph = gw
        .get(&format!("/api/v1/workflow/{id}/graph"), "Administrator")
        .await
        .expect(200)
        .json();
    check("GraphEntity", &graph);
    let me = gw.get("/api/v1/me", "jdoe").await.expect(200).json();
    check("UserEntity", &me);
    let login = gw
        .call(Method::POST, "/api/v1/automation/login", Some("jdoe"), None)
        .await
        .expect(200)
        .json();
    check("LoginEntity", &login);
    let missing = gw
        .get("/api/v1/workflow/does-not-exist", "Administrator")
        .await
        .expect_exception(404)
        .json();
    check("ExceptionEntity", &missing);
    let done = gw
        .complete(
            "Administrator",
            task["id"].as_str().unwrap(),
            "start_review",
            json!({"participants": ["user:jdoe"], "comment": "go"}),
        )
        .await
        .expect(200)
        .json();
    check("TaskEntity", &done);
    let live = gw
        .call(Method::GET, "/health/live", None, None)
        .await
        .expect(200)
        .json();
    check("Liveness", &live);
    let ready = gw
        .call(Method::GET, "/health/ready", None, None)
        .await
        .expect(200)
        .json();
    check("Readiness", &ready);
}
