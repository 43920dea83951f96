"""Reassign, delegate, permissions, cancel and graphs with the official Python client."""

import pytest
from nuxeo.exceptions import Forbidden, HTTPError

from helpers import action_names, actor_ids, new_document, open_tasks, raw_json

PARALLEL_NODES = {"Task21a0", "Task2556", "Task328d", "Task2169", "Task2225", "Task22b4", "Task232e"}


def serial_review_for(admin, participants):
    wf = admin.workflows.start("SerialDocumentReview", new_document(admin))
    [choose] = open_tasks(admin, wf.id)
    choose.complete("start_review", variables={"participants": participants})
    [review] = open_tasks(admin, wf.id)
    assert review.nodeName == "Task6d8"
    return wf, review


def test_reassign_then_delegate_moves_who_may_complete_the_task(connect):
    admin, jdoe, asmith, bob = (connect(u) for u in ("Administrator", "jdoe", "asmith", "bob"))
    wf, review = serial_review_for(admin, ["user:jdoe"])
    assert actor_ids(review) == ["user:jdoe"]

    # Reassign replaces the actors, strips the prefix, and records the comment.
    review.reassign("user:bob", comment="bob takes over")
    assert actor_ids(review) == ["bob"]
    assert review.state == "opened"
    assert review.comments[-1]["author"] == "Administrator"
    assert review.comments[-1]["text"] == "bob takes over"
    assert jdoe.tasks.get({"userId": "jdoe"}) == []
    [bobs] = bob.tasks.get({"userId": "bob"})
    assert bobs.id == review.id

    # Delegate adds a delegated actor; the actors stay as they were.
    review.delegate("user:asmith", comment="asmith may decide too")
    assert actor_ids(review) == ["bob"]
    assert review.comments[-1]["author"] == "Administrator"
    assert review.comments[-1]["text"] == "asmith may decide too"
    assert len(review.comments) == 2
    [delegated] = asmith.tasks.get({"userId": "asmith"})
    assert delegated.id == review.id
    assert delegated.state == "opened"

    # Old actor no longer may complete; the delegated actor may.
    with pytest.raises(Forbidden):
        jdoe.tasks.complete(delegated, "validate")
    delegated.complete("validate", comment="validated on behalf of bob")
    assert delegated.state == "ended"
    assert admin.workflows.get(wf.id).state == "done"


def test_reassign_without_comment_records_an_empty_comment(connect):
    admin = connect("Administrator")
    _, review = serial_review_for(admin, ["user:jdoe"])
    review.reassign("members")
    assert actor_ids(review) == ["members"]
    assert review.comments[-1]["author"] == "Administrator"
    assert review.comments[-1]["text"] is None
    # A group actor: every member now sees the task.
    [seen] = connect("asmith").tasks.get({"userId": "asmith"})
    assert seen.id == review.id


def test_outsider_may_not_complete_transfer_or_cancel(connect):
    admin, bob = connect("Administrator"), connect("bob")
    wf, review = serial_review_for(admin, ["user:jdoe"])

    # Asking for someone else's tasks is 200 limited to what bob can see: nothing.
    assert bob.tasks.get({"userId": "jdoe"}) == []
    assert bob.tasks.get() == []

    with pytest.raises(Forbidden):
        bob.tasks.complete(review, "validate")
    with pytest.raises(Forbidden):
        bob.tasks.transfer(review, "reassign", "user:bob")
    with pytest.raises(Forbidden):
        bob.tasks.transfer(review, "delegate", "user:bob")
    with pytest.raises(Forbidden):
        bob.workflows.delete(wf.id)

    [still] = open_tasks(admin, wf.id)
    assert still.id == review.id
    assert actor_ids(still) == ["user:jdoe"]
    assert still.state == "opened"
    assert admin.workflows.get(wf.id).state == "running"


def test_action_that_is_not_a_button_is_rejected_and_changes_nothing(connect):
    admin = connect("Administrator")
    wf, review = serial_review_for(admin, ["user:Administrator"])
    with pytest.raises(HTTPError) as err:
        review.complete("approve")  # Serial reviewers have reject/validate only
    assert err.value.status == 400
    [still] = open_tasks(admin, wf.id)
    assert still.id == review.id
    assert still.state == "opened"
    assert admin.workflows.get(wf.id).variables["index"] == 0


def test_deleting_a_workflow_cancels_it_and_its_open_tasks(connect):
    admin = connect("Administrator")
    doc = new_document(admin)
    wf = admin.workflows.start("ParallelDocumentReview", doc)
    [choose] = open_tasks(admin, wf.id)

    wf.delete()
    cancelled = admin.workflows.get(wf.id)
    assert cancelled.state == "canceled"  # one "l" for workflows
    assert admin.tasks.get(choose.id).state == "cancelled"  # two for tasks
    assert open_tasks(admin, wf.id) == []
    assert admin.documents.workflows(doc) == []
    assert wf.id not in [w.id for w in admin.workflows.get()]

    with pytest.raises(HTTPError) as err:
        admin.workflows.delete(wf.id)
    assert err.value.status == 400


def test_instance_graph_shows_where_the_workflow_waits(connect):
    admin = connect("Administrator")
    wf = admin.workflows.start("ParallelDocumentReview")

    # The client's own graph call parses the answer through its Workflow model.
    assert admin.workflows.graph(wf) is not None

    graph = raw_json(admin, f"workflow/{wf.id}/graph")
    assert graph["entity-type"] == "graph"
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert set(nodes) == PARALLEL_NODES
    assert nodes["Task21a0"]["isStartNode"] is True
    assert nodes["Task2556"]["state"] == "suspended"
    assert nodes["Task328d"]["isMultiTask"] is True
    assert all(nodes[s]["isEndNode"] for s in ("Task2225", "Task22b4", "Task232e"))
    edges = {(t["nodeSourceId"], t["nodeTargetId"]) for t in graph["transitions"]}
    assert edges == {
        ("Task21a0", "Task2556"),
        ("Task2556", "Task2225"),
        ("Task2556", "Task328d"),
        ("Task328d", "Task2169"),
        ("Task2169", "Task22b4"),
        ("Task2169", "Task232e"),
    }

    model = raw_json(admin, "workflowModel/ParallelDocumentReview/graph")
    assert model["entity-type"] == "graph"
    assert {n["id"] for n in model["nodes"]} == PARALLEL_NODES
    assert {n["state"] for n in model["nodes"]} == {"validated"}


def test_started_lists_only_running_workflows_of_the_caller(connect):
    admin, jdoe = connect("Administrator"), connect("jdoe")
    mine = admin.workflows.start("SerialDocumentReview")
    theirs = jdoe.workflows.start("SerialDocumentReview")
    [choose] = open_tasks(jdoe, theirs.id)
    assert actor_ids(choose) == ["jdoe"]
    assert action_names(choose) == ["cancel", "start_review"]

    assert [w.id for w in admin.workflows.started("SerialDocumentReview")] == [mine.id]
    assert [w.id for w in jdoe.workflows.started("SerialDocumentReview")] == [theirs.id]
    assert jdoe.workflows.started("ParallelDocumentReview") == []

    choose.complete("cancel")
    assert jdoe.workflows.started("SerialDocumentReview") == []
