//! Shared pieces of flowgate's load benchmarks: see `bench/run.sh` for how they are used.
//!
//! - `stack-baseline`: the fastest an actix-web server on this machine can answer a
//!   task-sized JSON body, the ceiling the gateway is compared against.
//! - `fg-load`: seeds a gateway with workflows over HTTP, drives reviews to their end,
//!   and reads the gateway's resident memory.
//! - `request-path`: the gateway's request path in process, next to [`bare_task`].
//! - `fg-mem`: resident memory per running workflow of the release gateway (memory
//!   and redb modes), and over a long run of reviews with retention on.

/// A realistic task entity of about one kilobyte, as the gateway renders one.
pub const TASK_BODY: &str = r#"{"entity-type":"task","id":"0192a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b","name":"wf.serialDocumentReview.chooseParticipants","workflowInstanceId":"0192a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a00","workflowModelName":"SerialDocumentReview","workflowInitiator":"user0001","workflowTitle":"wf.serialDocumentReview.SerialDocumentReview","workflowLifeCycleState":"running","graphResource":"http://127.0.0.1:8080/api/v1/workflow/0192a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a00/graph","state":"opened","directive":"wf.serialDocumentReview.pleaseSelect","created":"2026-11-25T10:00:00.000Z","dueDate":"2026-11-30T10:00:00.000Z","nodeName":"Task38e","targetDocumentIds":[{"id":"doc-0001"}],"actors":[{"id":"user0001"}],"delegatedActors":[],"comments":[],"variables":{"comment":null,"participants":[],"validationOrReview":"validation"},"taskInfo":{"allowTaskReassignment":false,"taskActions":[{"name":"cancel","url":"http://127.0.0.1:8080/api/v1/task/0192a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b/cancel","label":"wf.serialDocumentReview.cancel","validate":false},{"name":"start_review","url":"http://127.0.0.1:8080/api/v1/task/0192a3b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b/start_review","label":"wf.serialDocumentReview.startReview","validate":true}],"layoutResource":{"name":"Task38e@taskLayout","url":"http://127.0.0.1:8080/site/layout-manager/layouts/?layoutName=Task38e@taskLayout"},"schemas":[{"name":"var_Task38e","url":"http://127.0.0.1:8080/api/v1/config/schemas/var_Task38e"}]}}"#;

/// The least work any gateway request does: check that credentials are present and
/// answer [`TASK_BODY`]. The handler of `stack-baseline` and of `request-path`'s
/// comparison.
pub async fn bare_task(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    if req.headers().get("authorization").is_none() {
        return actix_web::HttpResponse::Unauthorized().finish();
    }
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body(TASK_BODY)
}
