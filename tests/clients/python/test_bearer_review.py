"""A review driven by the official Python client signed in with bearer tokens.

The test plays the identity provider: it makes an RSA key, writes its public half as a
JWKS file the gateway reads (`[auth.jwt] jwks_file`, given by environment), and signs
the users' access tokens. The client sends them as `Authorization: Bearer`, through
`JWTAuth(token)` and through its OAuth2 mode holding an access token.
"""

import json
import tempfile
import time
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from nuxeo.auth import JWTAuth, OAuth2
from nuxeo.client import Nuxeo
from nuxeo.exceptions import Unauthorized

from conftest import _start_gateway
from helpers import actor_ids, new_document, open_tasks

ISSUER = "https://idp.example.com/realms/acme"
AUDIENCE = "flowgate"


@pytest.fixture
def idp():
    """A signing key and a gateway trusting it (a JWKS file); yields (gateway, sign)."""
    work = Path(tempfile.mkdtemp(prefix="flowgate-jwt-"))
    key = RSAKey.generate_key(2048, parameters={"kid": "py-1", "use": "sig"})
    jwks = work / "jwks.json"
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    gw = _start_gateway(
        work,
        env={
            "FLOWGATE__AUTH__JWT__ISSUER": ISSUER,
            "FLOWGATE__AUTH__JWT__AUDIENCE": AUDIENCE,
            "FLOWGATE__AUTH__JWT__JWKS_FILE": str(jwks),
        },
    )

    def sign(user, groups, **overrides):
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": f"id-{user}",
            "preferred_username": user,
            "groups": groups,
            "iat": now,
            "exp": now + 300,
            **overrides,
        }
        return jwt.encode({"alg": "RS256", "kid": "py-1"}, claims, key)

    try:
        yield gw, sign
    finally:
        gw.stop()
        print(f"--- flowgate log ({gw.log_path}) ---\n{gw.log_tail()}")


def client(gw, auth):
    return Nuxeo(host=gw.base, auth=auth, timeout=(5, 30))


def test_serial_review_with_jwt_and_oauth2_bearer_tokens(idp):
    gw, sign = idp
    # Token users need not be configured: kc-admin is an administrator by its group.
    admin = client(gw, JWTAuth(sign("kc-admin", ["administrators"])))
    jdoe = client(gw, JWTAuth(sign("jdoe", ["members"])))
    asmith = client(
        gw,
        OAuth2(
            gw.base,
            token={
                "access_token": sign("asmith", ["members"]),
                "token_type": "Bearer",
                "expires_at": int(time.time()) + 300,
            },
        ),
    )

    me = admin.users.current_user()
    assert me.uid == "kc-admin"
    assert me.isAdministrator is True

    doc = new_document(admin)
    wf = admin.workflows.start("SerialDocumentReview", doc)
    assert wf.initiator == "kc-admin"
    [choose] = open_tasks(admin, wf.id)
    assert actor_ids(choose) == ["kc-admin"]
    choose.complete(
        "start_review", variables={"participants": ["user:jdoe", "user:asmith"]}
    )

    [first] = jdoe.tasks.get({"userId": "jdoe"})
    assert actor_ids(first) == ["user:jdoe"]
    first.complete("validate", comment="fine by me")

    [second] = asmith.tasks.get({"userId": "asmith"})
    assert actor_ids(second) == ["user:asmith"]
    second.complete("validate")

    wf = admin.workflows.get(wf.id)
    assert wf.state == "done"
    assert open_tasks(admin, wf.id) == []


def test_expired_bearer_token_is_refused(idp):
    gw, sign = idp
    now = int(time.time())
    stale = client(gw, JWTAuth(sign("jdoe", ["members"], exp=now - 600, iat=now - 900)))
    with pytest.raises(Unauthorized):
        stale.users.current_user()
