"""ParallelDocumentReview driven end to end with the official Python client (spec §9.2)."""

import re

import pytest
from nuxeo.exceptions import Conflict

from helpers import (
    ISO_MILLIS_Z,
    action_names,
    actor_ids,
    document_tasks,
    new_document,
    open_tasks,
)

END_DATE = "2030-01-01T12:00:00.000Z"
PARALLEL_VARIABLES = {
    "end_date",
    "initiatorComment",
    "participants",
    "review_result",
    "review_result_file",
    "validationOrReview",
}


def assert_choose_participants_task(task, wf, docs):
    assert task.state == "opened"
    assert task.nodeName == "Task2556"
    assert task.name == "wf.parallelDocumentReview.chooseParticipants.title"
    assert task.directive == "wf.parallelDocumentReview.chooseParticipants.directive"
    assert task.workflowInstanceId == wf.id
    assert task.workflowModelName == "ParallelDocumentReview"
    assert actor_ids(task) == ["Administrator"]
    assert action_names(task) == ["cancel", "start_review"]
    assert task.taskInfo["allowTaskReassignment"] is False
    assert task.targetDocumentIds == [{"id": d} for d in docs]
    assert ISO_MILLIS_Z.match(task.created)
    # Node variables first, then the workflow variables this node may see (§8.2).
    assert list(task.variables) == ["assignees", "comment", "end_date", "participants"]


def test_parallel_review_on_a_document_approved_by_the_initiator(connect, gateway):
    admin, jdoe, asmith = connect("Administrator"), connect("jdoe"), connect("asmith")
    doc = new_document(admin)

    wf = admin.workflows.start("ParallelDocumentReview", doc)
    assert wf.state == "running"
    assert wf.workflowModelName == "ParallelDocumentReview"
    assert re.fullmatch(r"ParallelDocumentReview(\.\d+)?", wf.name)
    assert wf.title == "wf.parallelDocumentReview.ParallelDocumentReview"
    assert wf.initiator == "Administrator"
    assert wf.attachedDocumentIds == [{"id": doc.uid}]
    assert set(wf.variables) == PARALLEL_VARIABLES
    assert wf.variables["participants"] == []
    assert wf.graphResource == f"{gateway.base}api/v1/workflow/{wf.id}/graph"

    assert [w.id for w in admin.documents.workflows(doc)] == [wf.id]
    assert wf.id in [w.id for w in admin.workflows.started("ParallelDocumentReview")]
    assert admin.workflows.get(wf.id).state == "running"

    # Step 2 of the seed's example: the task through the document's @task adapter.
    [choose] = document_tasks(
        admin,
        doc.uid,
        userId="Administrator",
        workflowInstanceId=wf.id,
        workflowModelName="ParallelDocumentReview",
    )
    assert_choose_participants_task(choose, wf, [doc.uid])
    assert [t.id for t in open_tasks(admin, wf.id)] == [choose.id]

    choose.complete(
        "start_review",
        variables={"participants": ["user:jdoe", "user:asmith"], "end_date": END_DATE},
        comment="please review",
    )
    assert choose.state == "ended"
    assert choose.comments[-1]["author"] == "Administrator"
    assert choose.comments[-1]["text"] == "please review"

    wf = admin.workflows.get(wf.id)
    assert wf.state == "running"
    assert wf.variables["participants"] == ["user:jdoe", "user:asmith"]
    assert wf.variables["end_date"] == END_DATE
    assert wf.variables["initiatorComment"] == "please review"

    reviews = open_tasks(admin, wf.id)
    assert sorted(actor_ids(t)[0] for t in reviews) == ["user:asmith", "user:jdoe"]
    for t in reviews:
        assert len(t.actors) == 1
        assert t.nodeName == "Task328d"
        assert t.name == "wf.parallelDocumentReview.give_opinion.title"
        assert t.directive == "wf.parallelDocumentReview.give_opinion.directive"
        assert action_names(t) == ["NA", "approve", "reject"]
        assert t.taskInfo["allowTaskReassignment"] is True
        assert t.dueDate == END_DATE
        assert t.variables["initiatorComment"] == "please review"
        assert t.targetDocumentIds == [{"id": doc.uid}]

    # Each reviewer sees exactly their own task, with and without userId.
    [mine] = jdoe.tasks.get({"userId": "jdoe"})
    assert actor_ids(mine) == ["user:jdoe"]
    assert [t.id for t in jdoe.tasks.get()] == [mine.id]
    mine.complete("approve", comment="looks good")
    assert mine.state == "ended"
    assert mine.comments[-1] == {
        "author": "jdoe",
        "text": "looks good",
        "date": mine.comments[-1]["date"],
    }

    # Until the last reviewer answers, nothing else appears.
    [left] = open_tasks(admin, wf.id)
    assert actor_ids(left) == ["user:asmith"]
    assert left.nodeName == "Task328d"

    [theirs] = asmith.tasks.get({"userId": "asmith"})
    assert theirs.id == left.id
    theirs.complete("reject", comment="needs work")

    [consolidate] = open_tasks(admin, wf.id)
    assert consolidate.nodeName == "Task2169"
    assert consolidate.name == "wf.parallelDocumentReview.consolidate.title"
    assert consolidate.directive == "wf.parallelDocumentReview.consolidate.directive"
    assert actor_ids(consolidate) == ["Administrator"]
    assert action_names(consolidate) == ["reject", "validate"]
    # A human-readable summary of every reviewer's decision and comment (§9.2).
    summary = consolidate.variables["review_result"]
    assert isinstance(summary, str) and summary.strip(), "review_result must summarise the reviews"
    for needle in ("jdoe", "approve", "looks good", "asmith", "reject", "needs work"):
        assert needle in summary, f"{needle!r} missing from review_result {summary!r}"
    assert "initiatorComment" not in consolidate.variables

    consolidate.complete("validate", comment="approved")
    assert consolidate.state == "ended"

    wf = admin.workflows.get(wf.id)
    assert wf.state == "done"
    assert open_tasks(admin, wf.id) == []
    assert admin.documents.workflows(doc) == []
    assert document_tasks(admin, doc.uid) == []
    assert wf.id not in [w.id for w in admin.workflows.started("ParallelDocumentReview")]

    # A finished task cannot be completed twice.
    with pytest.raises(Conflict):
        consolidate.complete("validate")


def test_parallel_review_without_document_rejected_at_consolidation(connect):
    admin, jdoe = connect("Administrator"), connect("jdoe")

    wf = admin.workflows.start("ParallelDocumentReview")
    assert wf.state == "running"
    assert wf.attachedDocumentIds == []

    [choose] = open_tasks(admin, wf.id)
    assert_choose_participants_task(choose, wf, [])

    # Seed 002 sends the participants as a string holding a JSON array.
    choose.complete("start_review", variables={"participants": '["user:jdoe"]'})
    assert choose.state == "ended"
    assert admin.workflows.get(wf.id).variables["participants"] == ["user:jdoe"]

    [review] = jdoe.tasks.get({"userId": "jdoe"})
    assert review.nodeName == "Task328d"
    assert actor_ids(review) == ["user:jdoe"]
    assert review.dueDate is None  # no end_date was given
    review.complete("NA")

    [consolidate] = open_tasks(admin, wf.id)
    assert consolidate.nodeName == "Task2169"
    consolidate.complete("reject", comment="not this time")

    wf = admin.workflows.get(wf.id)
    assert wf.state == "done"
    assert open_tasks(admin, wf.id) == []


def test_workflow_tasks_lists_the_callers_open_tasks_of_that_model(connect):
    """Workflow.tasks sends the whole workflow as query parameters; only the model name
    filters, so the open tasks of every Parallel review of the caller come back (trap 29)."""
    admin = connect("Administrator")
    first = admin.workflows.start("ParallelDocumentReview")
    second = admin.workflows.start("ParallelDocumentReview")
    admin.workflows.start("SerialDocumentReview")

    ids = sorted(t.workflowInstanceId for t in first.tasks)
    assert ids == sorted([first.id, second.id])


def test_attached_document_given_as_a_bare_string_is_attached(connect):
    """The client passes attachedDocumentIds through as given; its own tests pass one id
    as a plain string, which flowgate treats as a one-element list (spec §6.2)."""
    admin = connect("Administrator")
    doc = new_document(admin)
    wf = admin.workflows.start(
        "ParallelDocumentReview", options={"attachedDocumentIds": doc.uid}
    )
    assert wf.attachedDocumentIds == [{"id": doc.uid}]
    assert [w.id for w in admin.documents.workflows(doc)] == [wf.id]
    [choose] = open_tasks(admin, wf.id)
    assert choose.targetDocumentIds == [{"id": doc.uid}]
