"""Webhook signatures checked by the reference Standard Webhooks implementation.

A receiver on a loopback port gets the events of a Serial review driven with the official
client; `standardwebhooks.Webhook(secret).verify(body, headers)` (the package of
standardwebhooks.com) must accept every delivery, and reject it once the body is changed.
The secret reaches the gateway by environment (FLOWGATE__WEBHOOKS__<NAME>__SECRET).
"""

import base64
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from helpers import new_document, open_tasks

SERIAL = [
    "afterWorkflowStarted",
    "afterWorkflowTaskCreated",
    "afterWorkflowTaskEnded",
    "afterWorkflowTaskCreated",
    "afterWorkflowTaskEnded",
    "afterWorkflowFinish",
]


class Receiver:
    """Records every POST (headers and raw body) and answers 204."""

    def __init__(self):
        self.received = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    outer.received.append((dict(self.headers.items()), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, n, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= n:
                    return list(self.received)
            time.sleep(0.02)
        pytest.fail(f"{len(self.received)} webhook deliveries, expected {n}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_reference_package_verifies_every_delivery(start_gateway, receiver):
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    gw = start_gateway(
        f'[[webhooks]]\nname = "python-client"\nurl = "{receiver.url}"\nallow_plain_http = true\n',
        env={"FLOWGATE__WEBHOOKS__PYTHON_CLIENT__SECRET": secret},
    )
    admin, jdoe = gw.connect("Administrator"), gw.connect("jdoe")
    doc = new_document(admin)
    wf = admin.workflows.start("SerialDocumentReview", doc)
    [choose] = open_tasks(admin, wf.id)
    choose.complete("start_review", variables={"participants": ["user:jdoe"]}, comment="please")
    [review] = jdoe.tasks.get({"userId": "jdoe"})
    review.complete("validate", comment="fine")

    deliveries = receiver.wait_for(len(SERIAL))
    hook = Webhook(secret)
    payloads = [hook.verify(body, headers) for headers, body in deliveries]
    assert [p["type"] for p in payloads] == SERIAL
    assert all(p["data"]["workflowId"] == wf.id for p in payloads)
    assert all(p["data"]["documents"] == [doc.uid] for p in payloads)
    seqs = [p["data"]["seq"] for p in payloads]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert len({headers["webhook-id"] for headers, _ in deliveries}) == len(SERIAL)

    # The signature covers the body: a changed body is refused, so is another secret.
    headers, body = deliveries[0]
    with pytest.raises(WebhookVerificationError):
        hook.verify(body.replace(b"afterWorkflowStarted", b"afterWorkflowFinish"), headers)
    other = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, headers)
    assert secret not in gw.log_tail(10_000)


def test_a_rotated_secret_signs_with_both_until_removed(start_gateway, receiver):
    """While `previous_secret` is set, a receiver holding either secret accepts every
    delivery (two signatures in `webhook-signature`); a third secret is refused."""
    new = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    old = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    gw = start_gateway(
        f'[[webhooks]]\nname = "rotating"\nurl = "{receiver.url}"\nallow_plain_http = true\n'
        'events = ["afterWorkflowStarted"]\n',
        env={
            "FLOWGATE__WEBHOOKS__ROTATING__SECRET": new,
            "FLOWGATE__WEBHOOKS__ROTATING__PREVIOUS_SECRET": old,
        },
    )
    admin = gw.connect("Administrator")
    wf = admin.workflows.start("SerialDocumentReview", new_document(admin))

    [(headers, body)] = receiver.wait_for(1)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        payload = Webhook(secret).verify(body, headers)
        assert payload["type"] == "afterWorkflowStarted"
        assert payload["data"]["workflowId"] == wf.id
    third = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(third).verify(body, headers)
    log = gw.log_tail(10_000)
    assert new not in log and old not in log
