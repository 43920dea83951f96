"""Small helpers shared by the Python client tests (no server access of their own)."""

import re
import uuid

from nuxeo.endpoint import APIEndpoint
from nuxeo.models import Document

ISO_MILLIS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def new_document(nx):
    """A document reference bound to `nx`; the embedded engine treats ids as opaque."""
    return Document(service=nx.documents, uid=str(uuid.uuid4()))


def open_tasks(nx, workflow_id):
    """Open tasks of one workflow instance, as `GET task?workflowInstanceId=` returns them."""
    return nx.tasks.get({"workflowInstanceId": workflow_id})


def document_tasks(nx, doc_uid, **params):
    """`GET id/{doc}/@task?...` through the client's own endpoint machinery.

    The Python client has no method for the document task adapter; this is the same call
    its `documents.workflows()` makes for `@workflow`, pointed at `@task`.
    """
    return APIEndpoint.get(
        nx.tasks, endpoint=nx.client.api_path, path=f"id/{doc_uid}/@task", params=params
    )


def raw_json(nx, path):
    """GET `api/v1/<path>` with the client's session and return the decoded JSON."""
    return nx.client.request("GET", f"{nx.client.api_path}/{path}").json()


def action_names(task):
    return [a["name"] for a in task.taskInfo["taskActions"]]


def actor_ids(task):
    return [a["id"] for a in task.actors]
