"""Remote engines through flowgate with the official Python client.

Each test runs a simulator binary (Alfresco, or CQ / AEM in one of its release profiles)
and `flowgate serve` in front of it next to the embedded default engine, then drives a
whole review with the client's own workflow and task API only: start → the assignee's
task with its actions → completion → the instance has ended.
"""

import base64

import pytest
import requests
from nuxeo.models import Document

from remote_fixtures import (  # noqa: F401  (fixtures used by name)
    alfresco_sim,
    client,
    gateway_credentials,
    gateway_toml,
    processes,
    start_cq_sim,
    start_gateway,
    start_on_path,
    wait_for_state,
)

ALF_DOC_PATH = "/alfresco/Sites/finance/documentLibrary/contract.pdf"
# The simulator's node uuid of that document (Company Home/Sites/finance/documentLibrary).
ALF_DOC_UUID = "0a6b2c1e-5d4f-4a8e-9b7c-3e2d1f0a9b8c"
CQ_PAGE = "/content/flowgate/en/page-a"
CQ_PROFILES = ["cq5", "aem60-63", "aem64-65", "cloud"]


def action_names(task):
    return [a["name"] for a in task.taskInfo["taskActions"]]


def actor_ids(task):
    return [a["id"] for a in task.actors]


def tasks_of(nx, user, workflow_id):
    """The open tasks of `user` (`GET task?userId=`) that belong to `workflow_id`."""
    return [t for t in nx.tasks.get({"userId": user}) if t.workflowInstanceId == workflow_id]


def cq_steps_passed(sim, profile, workflow_id):
    """Titles of the steps the CQ instance behind `workflow_id` went through, oldest first.

    Read from the simulator's workflow console history as its administrator (not through
    flowgate): the Nuxeo API does not say which route a completed task took.
    """
    native = workflow_id.removeprefix("cq~")
    instance = base64.urlsafe_b64decode(native + "=" * (-len(native) % 4)).decode()
    if profile == "cloud":
        auth = {"headers": {"Authorization": "Bearer token-admin"}}
    else:
        auth = {"auth": ("admin", "admin")}
    r = requests.get(
        sim.rstrip("/") + "/libs/cq/workflow/content/console/history.json",
        params={"workflow": instance},
        timeout=5,
        **auth,
    )
    assert r.status_code == 200, (r.status_code, r.text[:300])
    return [h["process"] for h in r.json()["historyItems"]]


def alfresco_engine(base_url):
    return f"""
[engines.alfresco]
kind = "alfresco"
id_prefix = "alf"
mounts = ["/alfresco"]
[engines.alfresco.http]
base_url = "{base_url}"
connect_timeout_ms = 1000
request_timeout_ms = 5000
[engines.alfresco.auth]
mode = "ticket"
user = "admin"
password = "admin"
"""


def cq_engine(base_url, profile):
    if profile == "cloud":
        # The cloud profile authenticates with an access token; the simulator's is token-<user>.
        auth = 'mode = "bearer"\ntoken = "token-admin"'
    else:
        auth = 'mode = "basic"\nuser = "admin"\npassword = "admin"'
    return f"""
[engines.aem]
kind = "cq"
base_url = "{base_url}"
profile = "{profile}"
id_prefix = "cq"
mounts = ["/content"]
[engines.aem.auth]
{auth}
[engines.aem.http]
connect_timeout_ms = 1000
request_timeout_ms = 5000
"""


@pytest.mark.parametrize("addressed_by", ["path", "id"])
def test_alfresco_review_approved_by_the_assignee_ends_the_workflow(
    processes, alfresco_sim, gateway_credentials, addressed_by
):
    config = gateway_toml(alfresco_engine(alfresco_sim), gateway_credentials)
    base = start_gateway(processes, config)
    bob = client(base, "bob", gateway_credentials)
    jdoe = client(base, "jdoe", gateway_credentials)

    # bob starts Alfresco's review on the contract, for jdoe.
    variables = {"assignee": "jdoe", "comment": "Please review the Q3 contract"}
    if addressed_by == "path":
        wf = start_on_path(bob, ALF_DOC_PATH, "activitiReview", variables)
    else:
        doc = Document(service=bob.documents, uid=f"alf~{ALF_DOC_UUID}")
        wf = bob.workflows.start("activitiReview", doc, options={"variables": variables})
    assert wf.id.startswith("alf~"), wf.id
    assert wf.state == "running"
    assert wf.workflowModelName == "activitiReview"
    assert wf.initiator == "bob"
    assert wf.attachedDocumentIds, "the started workflow names no document"
    attached = [d["id"] if isinstance(d, dict) else d for d in wf.attachedDocumentIds]
    assert f"alf~{ALF_DOC_UUID}" in attached
    assert bob.workflows.get(wf.id).state == "running"

    # jdoe finds the review task in the task list, with Alfresco's outcomes as actions.
    tasks = tasks_of(jdoe, "jdoe", wf.id)
    assert len(tasks) == 1, [t.as_dict() for t in tasks]
    review = tasks[0]
    assert review.id.startswith("alf~"), review.id
    assert review.state == "opened"
    assert "jdoe" in actor_ids(review)
    assert sorted(action_names(review)) == ["approve", "reject"]
    targets = [d["id"] if isinstance(d, dict) else d for d in review.targetDocumentIds]
    assert f"alf~{ALF_DOC_UUID}" in targets
    # The same task by id.
    assert jdoe.tasks.get(review.id).state == "opened"

    done = jdoe.tasks.complete(review, "approve", comment="Approved, fine by me")
    assert done.state == "ended"
    assert tasks_of(jdoe, "jdoe", wf.id) == []

    # As in Alfresco's own activitiReview, an approval hands the initiator a "Document
    # Approved" task (one action, `complete`); acknowledging it ends the instance.
    after_review = bob.workflows.get(wf.id)
    assert after_review.state == "running"
    assert after_review.variables.get("reviewOutcome") == "Approve", after_review.variables
    notices = tasks_of(bob, "bob", wf.id)
    assert len(notices) == 1, [t.as_dict() for t in notices]
    notice = notices[0]
    assert notice.directive == "Document Approved"
    assert "bob" in actor_ids(notice)
    assert action_names(notice) == ["complete"]
    assert bob.tasks.complete(notice, "complete").state == "ended"

    ended = wait_for_state(bob, wf.id, "done")
    assert ended.state == "done", ended.as_dict()
    assert tasks_of(bob, "bob", wf.id) == []
    assert tasks_of(jdoe, "jdoe", wf.id) == []


@pytest.mark.parametrize("profile", CQ_PROFILES)
def test_cq_approval_on_a_content_page_completed_along_a_named_route_ends_the_workflow(
    processes, gateway_credentials, profile
):
    sim = start_cq_sim(processes, profile)
    base = start_gateway(processes, gateway_toml(cq_engine(sim, profile), gateway_credentials))
    editor = client(base, "editor1", gateway_credentials)
    jdoe = client(base, "jdoe", gateway_credentials)

    # editor1 starts the review model on a page under /content (the CQ mount).
    wf = start_on_path(editor, CQ_PAGE, "flowgate/review")
    assert wf.id.startswith("cq~"), wf.id
    assert wf.state == "running"
    assert wf.workflowModelName == "flowgate/review"
    assert wf.initiator == "editor1"
    page_id = "cq~" + base64.urlsafe_b64encode(CQ_PAGE.encode()).decode().rstrip("=")
    attached = [d["id"] if isinstance(d, dict) else d for d in wf.attachedDocumentIds]
    assert page_id in attached, wf.attachedDocumentIds
    assert editor.workflows.get(wf.id).state == "running"

    # jdoe, the model's participant, finds the work item in the task list; its actions
    # are the routes of the OR split after it.
    tasks = tasks_of(jdoe, "jdoe", wf.id)
    assert len(tasks) == 1, [t.as_dict() for t in tasks]
    item = tasks[0]
    assert item.id.startswith("cq~"), item.id
    assert item.state == "opened"
    assert "jdoe" in actor_ids(item)
    assert sorted(action_names(item)) == ["Approve", "Reject"]
    assert jdoe.tasks.get(item.id).state == "opened"

    done = jdoe.tasks.complete(item, "Approve", comment="Ready to publish")
    assert done.state == "ended"
    assert tasks_of(jdoe, "jdoe", wf.id) == []

    ended = wait_for_state(editor, wf.id, "done")
    assert ended.state == "done", ended.as_dict()
    # The completed work item stays readable, ended.
    assert jdoe.tasks.get(item.id).state == "ended"
    # The instance went through the step behind the chosen route, not the other one.
    steps = cq_steps_passed(sim, profile, wf.id)
    assert "Approve" in steps and "Reject" not in steps, steps
