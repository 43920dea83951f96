"""The document audit (`@audit`) read through the official client's `Document.fetch_audit()`."""

import pytest
from nuxeo.exceptions import Forbidden
from nuxeo.models import Document

from helpers import new_document, open_tasks

SERIAL_EVENTS = [
    "afterWorkflowStarted",
    "afterWorkflowTaskCreated",
    "afterWorkflowTaskEnded",
    "afterWorkflowTaskCreated",
    "afterWorkflowTaskEnded",
    "afterWorkflowFinish",
]


def test_audit_of_a_document_after_a_serial_review(connect):
    admin, asmith, jdoe = connect("Administrator"), connect("asmith"), connect("jdoe")
    doc = new_document(admin)
    wf = admin.workflows.start("SerialDocumentReview", doc)
    [choose] = open_tasks(admin, wf.id)
    choose.complete(
        "start_review", variables={"participants": ["user:asmith"]}, comment="have a look"
    )
    [review] = open_tasks(asmith, wf.id)
    review.complete("validate", comment="looks good")

    audit = doc.fetch_audit()
    assert audit["entity-type"] == "logEntries"
    entries = audit["entries"]
    assert [e["eventId"] for e in entries] == SERIAL_EVENTS
    assert audit["resultsCount"] == len(SERIAL_EVENTS)
    assert len({e["id"] for e in entries}) == len(entries)
    for e in entries:
        assert e["entity-type"] == "logEntry"
        assert e["category"] == "Routing"
        assert e["docUUID"] == doc.uid
        assert e["extended"]["modelName"] == "SerialDocumentReview"
        assert e["extended"]["workflowInitiator"] == "Administrator"
        assert e["extended"]["workflowInstanceId"] == wf.id
        assert isinstance(e["eventDate"], str) and e["eventDate"]

    started, _, chosen, _, validated, finished = entries
    assert started["principalName"] == "Administrator"
    assert chosen["comment"] == "have a look"
    assert chosen["extended"]["action"] == "start_review"
    assert validated["principalName"] == "asmith"
    assert validated["comment"] == "looks good"
    assert validated["extended"]["action"] == "validate"
    assert validated["extended"]["taskActor"] == "asmith"
    assert finished["eventId"] == "afterWorkflowFinish"

    # The reviewer reads the same audit through her own session; a user with no part in
    # the workflow is refused, as Nuxeo refuses reading a document's audit without rights.
    mine = Document(service=asmith.documents, uid=doc.uid)
    assert [e["eventId"] for e in mine.fetch_audit()["entries"]] == SERIAL_EVENTS
    with pytest.raises(Forbidden):
        Document(service=jdoe.documents, uid=doc.uid).fetch_audit()
