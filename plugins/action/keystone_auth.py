# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import datetime
import json
import math
import urllib.error

from ansible.module_utils.urls import open_url
from ansible_collections.opnfv.escalator.plugins.plugin_utils._action import EscalatorAction

MAX_TIMEOUT = 300  # seconds one call to Keystone may take

ARGUMENT_SPEC = {
    "auth_url": {"type": "str", "required": True},
    "token": {"type": "str", "no_log": True},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "user_domain": {"type": "str", "default": "Default"},
    "project": {"type": "str"},
    "project_domain": {"type": "str", "default": "Default"},
    "role": {"type": "str", "default": "admin"},
    "validate_certs": {"type": "bool", "default": True},
    "timeout": {"type": "float", "default": 10},
}
REFUSED = "The run was refused before anything was changed"


class KeystoneAuthError(Exception):
    """Why the user may not start the run; never holds the token or the password."""


def _call(opener, url, timeout, validate_certs, headers, data=None, method="GET"):
    try:
        response = opener(url, data=data, headers=dict(headers, Accept="application/json"), method=method,
                          timeout=timeout, validate_certs=validate_certs, follow_redirects="none")
        return response.getcode(), dict(response.headers.items()), json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {}, {}
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise KeystoneAuthError(f"Keystone at {url} cannot be reached: {reason}") from None


def authorize(args, opener=open_url, now=None):
    """The token's user, project and roles once Keystone vouches for them and they carry
    the required role; KeystoneAuthError otherwise."""
    if not (math.isfinite(args["timeout"]) and 0 < args["timeout"] <= MAX_TIMEOUT):
        raise KeystoneAuthError(f"timeout: seconds, more than 0 and at most {MAX_TIMEOUT}")
    base = args["auth_url"].rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise KeystoneAuthError("auth_url: an http:// or https:// address of Keystone's v3 API is required")
    if not base.endswith("/v3"):
        base += "/v3"
    url = f"{base}/auth/tokens"
    call = dict(opener=opener, timeout=args["timeout"], validate_certs=args["validate_certs"])
    if args.get("token"):
        status, dummy, body = _call(url=url, headers={"X-Auth-Token": args["token"], "X-Subject-Token": args["token"]},
                                    **call)
        if status in (401, 403, 404):
            raise KeystoneAuthError("the token is missing, expired or revoked: Keystone does not accept it "
                                    "(get a new one with: openstack token issue)")
    elif args.get("username") and args.get("password"):
        auth = {"identity": {"methods": ["password"], "password": {"user": {
            "name": args["username"], "domain": {"name": args["user_domain"]}, "password": args["password"]}}}}
        if args.get("project"):
            auth["scope"] = {"project": {"name": args["project"], "domain": {"name": args["project_domain"]}}}
        status, dummy, body = _call(url=url, headers={"Content-Type": "application/json"},
                                    data=json.dumps({"auth": auth}).encode(), method="POST", **call)
        if status == 401:
            raise KeystoneAuthError(f"Keystone refused the password of user {args['username']}"
                                    + (f" on project {args['project']}" if args.get("project") else ""))
    else:
        raise KeystoneAuthError("token, or username and password: no credentials were given "
                                "(set escalator_auth_token, or OS_TOKEN in the environment)")
    if status not in (200, 201) or not isinstance(body.get("token"), dict):
        raise KeystoneAuthError(f"Keystone answered {status} at {url}, without a token")
    token = body["token"]
    user = token.get("user") or {}
    project = token.get("project") or {}
    roles = sorted(r.get("name", "") for r in token.get("roles") or [])
    expires = token.get("expires_at")
    try:
        when = datetime.datetime.fromisoformat(str(expires).replace("Z", "+00:00"))
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        raise KeystoneAuthError(f"Keystone's token has no readable expiry ({str(expires)[:40]!r})") from None
    if when <= (now or datetime.datetime.now(datetime.timezone.utc)):
        raise KeystoneAuthError(f"the token of user {user.get('name')} expired at {expires}")
    who = f"user {user.get('name')} (domain {(user.get('domain') or {}).get('name')})"
    if args.get("project") and args["project"] not in (project.get("name"), project.get("id")):
        raise KeystoneAuthError(f"{who}'s token is scoped to project {project.get('name') or 'none'}, "
                                f"not {args['project']}")
    if not project and not token.get("domain") and not token.get("system"):
        raise KeystoneAuthError(f"{who}'s token is unscoped: it carries no role; scope it to a project")
    if args["role"] not in roles:
        raise KeystoneAuthError(f"{who} has no role {args['role']} on project {project.get('name') or '-'} "
                                f"(roles: {', '.join(roles) or 'none'})")
    return {"user": {"name": user.get("name"), "id": user.get("id"), "domain": (user.get("domain") or {}).get("name")},
            "project": {"name": project.get("name"), "id": project.get("id")} if project else None,
            "roles": roles, "expires_at": expires}


class ActionModule(EscalatorAction):
    """Let the run start only for a Keystone user with the required role; see the module."""

    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            found = authorize(args)
        except KeystoneAuthError as exc:
            return dict(result, failed=True, changed=False, msg=f"escalator_auth keystone: {exc}. {REFUSED}.")
        return dict(result, changed=False, **found)
