"""keystone_auth against a stand-in Keystone on loopback (the lab test uses the real one):
a token with the role passes, every other case is a clear refusal that never shows the
token or the password."""

import json

import pytest
from keystone_stub import PASSWORD, TOKEN, FakeKeystone, body

from ansible_collections.opnfv.escalator.plugins.action.keystone_auth import KeystoneAuthError, authorize


@pytest.fixture
def keystone():
    made = []

    def make(token_body):
        made.append(FakeKeystone(token_body))
        return f"http://127.0.0.1:{made[-1].server_address[1]}"
    yield make
    for server in made:
        server.shutdown()
        server.server_close()


def args(url, **kw):
    return dict({"auth_url": url, "token": None, "username": None, "password": None, "user_domain": "Default",
                 "project": None, "project_domain": "Default", "role": "admin", "validate_certs": True,
                 "timeout": 5}, **kw)


def test_a_token_with_the_role_passes_and_names_the_user(keystone):
    found = authorize(args(keystone(body(["admin", "member"])), token=TOKEN, project="admin"))
    assert found["user"] == {"name": "alice", "id": "u1", "domain": "Default"}
    assert found["roles"] == ["admin", "member"] and found["project"]["name"] == "admin"
    assert TOKEN not in json.dumps(found)


def test_a_password_gets_a_token_first(keystone):
    url = keystone(body(["admin"]))
    assert authorize(args(url + "/v3/", username="alice", password=PASSWORD, project="admin"))["user"]["name"] == "alice"
    with pytest.raises(KeystoneAuthError, match="refused the password of user alice on project admin") as err:
        authorize(args(url, username="alice", password="wrong", project="admin"))
    assert "wrong" not in str(err.value)


@pytest.mark.parametrize("token_body, extra, says", [
    (body(["member", "reader"]), {}, "user alice (domain Default) has no role admin on project admin (roles: member, reader)"),
    (body(["admin"], expires="2020-01-01T00:00:00Z"), {}, "the token of user alice expired at 2020-01-01T00:00:00Z"),
    (body(["admin"], project="demo"), {"project": "admin"}, "scoped to project demo, not admin"),
    (body([], project=None), {}, "unscoped"),
])
def test_a_token_without_the_role_or_out_of_date_or_scope_is_refused(keystone, token_body, extra, says):
    with pytest.raises(KeystoneAuthError) as err:
        authorize(args(keystone(token_body), token=TOKEN, **extra))
    assert says in str(err.value) and TOKEN not in str(err.value)


def test_a_bad_or_missing_token_and_an_unreachable_keystone_are_refused(keystone):
    url = keystone(body(["admin"]))
    with pytest.raises(KeystoneAuthError, match="missing, expired or revoked"):
        authorize(args(url, token="not-a-token"))
    with pytest.raises(KeystoneAuthError, match="no credentials were given"):
        authorize(args(url))
    with pytest.raises(KeystoneAuthError, match="cannot be reached"):
        authorize(args("http://127.0.0.1:9", token=TOKEN))
    with pytest.raises(KeystoneAuthError, match="auth_url: an http"):
        authorize(args("keystone:5000", token=TOKEN))
