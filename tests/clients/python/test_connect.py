"""Connecting and identifying the user with the official Python client."""

import re

import pytest
from nuxeo.auth import TokenAuth
from nuxeo.client import Nuxeo
from nuxeo.exceptions import Unauthorized

from helpers import raw_json


def test_server_info_reports_a_nuxeo_like_version(connect):
    nx = connect("Administrator")
    info = nx.client.server_info()
    assert info is not None, "GET json/cmis did not answer a 'default' repository entry"
    assert re.search(r"\d+\.\d+", info["productVersion"])
    assert re.search(r"\d+\.\d+", nx.client.server_version)
    assert nx.client.is_reachable()


def test_current_user_is_the_authenticated_administrator(connect):
    me = connect("Administrator").users.current_user()
    assert me.id == "Administrator"
    assert me.isAdministrator is True
    assert me.properties["username"] == "Administrator"
    assert "administrators" in me.properties["groups"]
    assert "password" not in me.properties


def test_user_lookup_returns_the_user_entity(connect):
    jdoe = connect("Administrator").users.get("jdoe")
    assert jdoe.id == "jdoe"
    assert jdoe.properties["username"] == "jdoe"
    assert jdoe.properties["email"] == "jdoe@example.com"
    assert jdoe.isAdministrator is False
    assert "password" not in jdoe.properties


def test_wrong_password_is_unauthorized(connect):
    nx = connect("Administrator", password="not-the-password")
    with pytest.raises(Unauthorized):
        nx.users.current_user()
    with pytest.raises(Unauthorized):
        nx.workflows.get()


def test_token_obtained_with_basic_auth_authenticates_later_calls(connect, gateway):
    basic = connect("jdoe")
    token = basic.client.request_auth_token(
        device_id="flowgate-client-tests", permission="rw"
    )
    assert token and "\n" not in token
    by_token = Nuxeo(host=gateway.base, auth=TokenAuth(token), timeout=(5, 30))
    assert by_token.users.current_user().id == "jdoe"


def test_workflow_models_are_the_two_default_reviews(connect):
    nx = connect("Administrator")
    models = raw_json(nx, "workflowModel")
    assert models["entity-type"] == "workflows"
    names = sorted(m["name"] for m in models["entries"])
    assert names == ["ParallelDocumentReview", "SerialDocumentReview"]
    for m in models["entries"]:
        assert m["state"] == "validated"
        assert m["initiator"] is None
        assert m["attachedDocumentIds"] == []
    serial = raw_json(nx, "workflowModel/SerialDocumentReview")
    assert serial["entity-type"] == "workflow"
    assert serial["title"] == "wf.serialDocumentReview.SerialDocumentReview"
    assert serial["variables"] == {
        "index": 0,
        "initiatorComment": None,
        "participants": [],
        "validationOrReview": "validation",
    }
    assert serial["graphResource"].endswith("/nuxeo/api/v1/workflowModel/SerialDocumentReview/graph")
