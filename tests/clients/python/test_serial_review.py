"""SerialDocumentReview driven end to end with the official Python client (spec §9.1)."""

import pytest
from nuxeo.exceptions import Conflict

from helpers import action_names, actor_ids, new_document, open_tasks

SERIAL_VARIABLES = {"index", "initiatorComment", "participants", "validationOrReview"}


def start_serial(admin, doc=None):
    wf = admin.workflows.start("SerialDocumentReview", doc)
    assert wf.state == "running"
    assert wf.title == "wf.serialDocumentReview.SerialDocumentReview"
    assert set(wf.variables) == SERIAL_VARIABLES
    assert wf.variables["index"] == 0
    assert wf.variables["validationOrReview"] == "validation"
    [choose] = open_tasks(admin, wf.id)
    assert choose.nodeName == "Task38e"
    assert choose.name == "wf.serialDocumentReview.chooseParticipants"
    assert choose.directive == "wf.serialDocumentReview.pleaseSelect"
    assert actor_ids(choose) == ["Administrator"]
    assert action_names(choose) == ["cancel", "start_review"]
    assert choose.taskInfo["allowTaskReassignment"] is False
    assert list(choose.variables) == ["comment", "participants", "validationOrReview"]
    return wf, choose


def only_task(nx, wf_id, node, actor):
    [task] = open_tasks(nx, wf_id)
    assert task.nodeName == node
    assert actor_ids(task) == [actor]
    return task


def index_of(admin, wf_id):
    return admin.workflows.get(wf_id).variables["index"]


def test_serial_review_with_two_validators_ends_done(connect):
    admin, jdoe, asmith = connect("Administrator"), connect("jdoe"), connect("asmith")
    doc = new_document(admin)
    wf, choose = start_serial(admin, doc)
    assert wf.attachedDocumentIds == [{"id": doc.uid}]

    # The choose-participants node does not allow reassignment: 409 (decided deviation).
    with pytest.raises(Conflict):
        choose.reassign("user:jdoe")

    choose.complete(
        "start_review",
        variables={"participants": ["user:jdoe", "user:asmith"]},
        comment="serial please",
    )
    assert choose.state == "ended"
    wf = admin.workflows.get(wf.id)
    assert wf.variables["initiatorComment"] == "serial please"
    assert wf.variables["participants"] == ["user:jdoe", "user:asmith"]
    assert wf.variables["index"] == 0

    [first] = jdoe.tasks.get({"userId": "jdoe"})
    assert first.nodeName == "Task6d8"
    assert first.name == "wf.serialDocumentReview.DocumentValidation"
    assert first.directive == "wf.serialDocumentReview.AcceptReject"
    assert actor_ids(first) == ["user:jdoe"]
    assert action_names(first) == ["reject", "validate"]
    assert first.taskInfo["allowTaskReassignment"] is True
    assert first.variables == {
        "comment": None,
        "initiatorComment": "serial please",
        "participants": ["user:jdoe", "user:asmith"],
    }
    assert asmith.tasks.get({"userId": "asmith"}) == []

    first.complete("validate", comment="fine by me")
    assert first.state == "ended"
    assert index_of(admin, wf.id) == 1

    second = only_task(admin, wf.id, "Task6d8", "user:asmith")
    assert second.variables["comment"] is None  # each reviewer starts with an empty comment
    [theirs] = asmith.tasks.get({"userId": "asmith"})
    assert theirs.id == second.id
    theirs.complete("validate")

    wf = admin.workflows.get(wf.id)
    assert wf.state == "done"
    assert wf.variables["index"] == 2
    assert open_tasks(admin, wf.id) == []
    assert admin.documents.workflows(doc) == []


def test_serial_rejection_loops_back_and_update_request_goes_to_initiator(connect):
    admin, jdoe, asmith = connect("Administrator"), connect("jdoe"), connect("asmith")
    wf, choose = start_serial(admin, new_document(admin))
    choose.complete("start_review", variables={"participants": ["user:jdoe", "user:asmith"]})

    only_task(jdoe, wf.id, "Task6d8", "user:jdoe").complete("validate")
    assert index_of(admin, wf.id) == 1

    # asmith rejects: back to the previous participant.
    only_task(asmith, wf.id, "Task6d8", "user:asmith").complete("reject", comment="no")
    assert index_of(admin, wf.id) == 0
    back = only_task(admin, wf.id, "Task6d8", "user:jdoe")

    # jdoe rejects too: index -1, the initiator is asked to update the document.
    [same] = jdoe.tasks.get({"userId": "jdoe"})
    assert same.id == back.id
    same.complete("reject", comment="agreed, no")
    assert index_of(admin, wf.id) == -1
    update = only_task(admin, wf.id, "Task542", "Administrator")
    assert update.name == "wf.serialDocumentReview.updateRequest"
    assert update.directive == "wf.serialDocumentReview.updateRequest.directive"
    assert action_names(update) == ["cancel", "submit"]
    assert update.taskInfo["allowTaskReassignment"] is False

    # Re-submission restarts the review at the first participant.
    update.complete("submit")
    assert index_of(admin, wf.id) == 0
    only_task(jdoe, wf.id, "Task6d8", "user:jdoe").complete("reject")
    assert index_of(admin, wf.id) == -1

    # Cancelling the update request ends the workflow as done, not canceled.
    only_task(admin, wf.id, "Task542", "Administrator").complete("cancel")
    wf = admin.workflows.get(wf.id)
    assert wf.state == "done"
    assert open_tasks(admin, wf.id) == []


def test_serial_single_participant_validates_own_review(connect):
    admin = connect("Administrator")
    wf, choose = start_serial(admin)
    choose.complete("start_review", variables={"participants": ["user:Administrator"]})
    review = only_task(admin, wf.id, "Task6d8", "user:Administrator")
    review.complete("validate", comment="self-approved")
    assert review.comments[-1]["text"] == "self-approved"
    assert admin.workflows.get(wf.id).state == "done"


def test_serial_cancel_button_ends_the_workflow_done(connect):
    admin = connect("Administrator")
    wf, choose = start_serial(admin)
    choose.complete("cancel")
    assert choose.state == "ended"
    wf = admin.workflows.get(wf.id)
    assert wf.state == "done"
    assert open_tasks(admin, wf.id) == []

    # A done workflow may still be cancelled (spec §6.5, trap 24).
    wf.delete()
    assert admin.workflows.get(wf.id).state == "canceled"
