//! `config/example.toml` works as shipped with both simulators: the file is loaded as
//! `flowgate serve --config` loads it (with only the engines' base URLs pointed at the
//! simulators' loopback ports), the secrets come from the environment names the adapter
//! READMEs use, and a review runs on each remote engine through the Nuxeo API.

use std::time::Duration;

use actix_web::test::TestRequest;
use flowgate::settings::{Settings, Sources};
use flowgate::AppState;
use serde_json::json;

const ALF_DOC: &str = "/api/v1/path/alfresco/Sites/finance/documentLibrary/contract.pdf";
const CQ_DOC: &str = "/api/v1/path/content/flowgate/en/page-a";

#[actix_web::test]
async fn the_example_configuration_serves_both_simulators() {
    let alf = flowgate_alfresco::sim::Sim::spawn(flowgate_alfresco::sim::SimOptions::default())
        .expect("alfresco simulator");
    let cq = flowgate_cq::sim::spawn(flowgate_cq::Profile::Aem64To65)
        .await
        .expect("cq simulator");
    // The names config/example.toml and the adapter READMEs use; the simulators'
    // passwords equal the user names.
    std::env::set_var("ALFRESCO_PASSWORD", "admin");
    std::env::set_var("FLOWGATE_AEM_PASSWORD", "flowgate-service");

    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/example.toml");
    let overlay = format!(
        "[engines.local]\nmodels_dir = \"{dir}/config/models\"\n\
         [engines.alfresco]\nbase_url = \"{alf}\"\n[engines.aem]\nbase_url = \"{cq}\"\n",
        dir = env!("CARGO_MANIFEST_DIR"),
        alf = alf.base_url,
        cq = cq.base_url()
    );
    let sources = Sources {
        file: Some(file),
        toml: Some(overlay),
        env: Some(Default::default()),
    };
    let settings = Settings::load(&sources).expect("config/example.toml loads");
    let state = actix_web::web::Data::new(AppState::new(settings).expect("engines build"));
    let app = actix_web::test::init_service(flowgate::app(state)).await;

    // The example's users: passwords equal their names.
    let basic = |user: &str| {
        let raw = format!("{user}:{user}");
        format!(
            "Basic {}",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, raw)
        )
    };
    let starts = [
        (
            ALF_DOC,
            "jdoe",
            json!({"entity-type": "workflow", "workflowModelName": "activitiReview",
                   "variables": {"assignee": "jdoe"}}),
        ),
        (
            CQ_DOC,
            "Administrator",
            json!({"entity-type": "workflow", "workflowModelName": "flowgate/review"}),
        ),
    ];
    for (doc, user, body) in starts {
        let req = TestRequest::post()
            .uri(&format!("{doc}/@workflow"))
            .insert_header(("Authorization", basic(user)))
            .insert_header(("Content-Type", "application/json"))
            .set_json(&body)
            .to_request();
        let resp = tokio::time::timeout(
            Duration::from_secs(20),
            actix_web::test::call_service(&app, req),
        )
        .await
        .expect("answered in time");
        let status = resp.status();
        let text = actix_web::test::read_body(resp).await;
        assert_eq!(status, 201, "{doc}: {}", String::from_utf8_lossy(&text));
    }
    drop(cq);
    alf.stop();
}
