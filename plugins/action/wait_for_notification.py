# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import http.server
import json
import math
import ssl
import time

from ansible_collections.opnfv.escalator.plugins.plugin_utils._action import EscalatorAction
from ansible_collections.opnfv.escalator.plugins.plugin_utils._webhooks import (
    BIND_EMPTY, JsonRequestHandler, WebhookError, check_secret, read_seen, refusal_status, serve_tls, verify,
    write_seen)

ARGUMENT_SPEC = {
    "secret": {"type": "str", "required": True, "no_log": True},
    "bind": {"type": "str", "default": "127.0.0.1"},
    "port": {"type": "int", "required": True},
    "path": {"type": "str", "default": "/"},
    "timeout": {"type": "float", "default": 300},
    "on_timeout": {"type": "str", "default": "fail", "choices": ["fail", "continue"]},
    "match": {"type": "dict", "default": {}},
    "tls_certfile": {"type": "path"},
    "tls_keyfile": {"type": "path"},
    "replay_file": {"type": "path"},
}
MAX_BODY = 1024 * 1024
MAX_TIMEOUT = 7 * 24 * 3600


def lookup(data, dotted):
    """data's value at a dotted path (a.b.c), or a marker object when it has none."""
    for part in dotted.split("."):
        if not isinstance(data, dict) or part not in data:
            return lookup
        data = data[part]
    return data


class _Waiter(http.server.HTTPServer):
    """One listening socket; requests are judged one at a time, in the task's own process."""

    def __init__(self, address, settings):
        self.settings = settings
        self.seen = settings["seen"]
        self.rejected = []
        self.ignored = 0
        self.accepted = None
        super().__init__(address, _Handler)


class _Handler(JsonRequestHandler):

    def _answer(self, status, reason):
        self.answer(status, {"result": reason})

    def _reject(self, status, reason):
        self.server.rejected.append({"at": round(time.time(), 3), "remote": self.client_address[0],
                                     "reason": reason[:200], "status": status})
        self._answer(status, reason)

    def do_POST(self):
        settings = self.server.settings
        if self.path.split("?", 1)[0] != settings["path"]:
            return self._reject(404, f"wrong path {self.path[:80]!r}")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return self._reject(411, "malformed: Content-Length is required")
        if not 0 <= length <= MAX_BODY:
            return self._reject(413, f"malformed: the body is over {MAX_BODY} bytes")
        body = self.rfile.read(length)
        try:
            data = verify(settings["secret"], body, dict(self.headers.items()), seen=self.server.seen)
        except WebhookError as exc:
            reason = str(exc)
            return self._reject(refusal_status(reason), reason)
        wanted = settings["match"]
        if any(lookup(data, key) != value for key, value in wanted.items()):
            self.server.ignored += 1
            return self._answer(202, "signed, but not the notification awaited: ignored")
        self.server.accepted = {"body": data, "remote": self.client_address[0], "id": self.headers["webhook-id"]}
        return self._answer(200, "accepted")

    def _not_allowed(self):
        self._reject(405, f"method {self.command} not allowed: POST a signed notification")

    do_GET = do_PUT = do_DELETE = do_PATCH = do_HEAD = _not_allowed


class ActionModule(EscalatorAction):
    """Serve one endpoint until a signed notification that matches comes; see the module."""

    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        problem = self._check(args)
        if problem:
            return dict(result, failed=True, msg=problem)
        try:
            seen = read_seen(args["replay_file"])
        except WebhookError as exc:
            return dict(result, failed=True, msg=str(exc))
        settings = dict(args, seen=seen)
        where = f"{'https' if args['tls_certfile'] else 'http'}://{args['bind']}:{args['port']}{args['path']}"
        try:
            server = _Waiter((args["bind"], args["port"]), settings)
        except (OSError, OverflowError, TypeError, ValueError) as exc:  # a name that cannot be encoded too
            return dict(result, failed=True, msg=f"bind, port: cannot listen on {args['bind']}:{args['port']}: {exc}")
        try:
            if args["tls_certfile"]:
                try:
                    serve_tls(server, args["tls_certfile"], args["tls_keyfile"])
                except WebhookError as exc:
                    return dict(result, failed=True, msg=str(exc))
            if self._task.check_mode:
                return dict(result, changed=False, url=where, msg=f"check mode: {where} can listen; no wait")
            started = time.monotonic()
            deadline = started + args["timeout"]
            while server.accepted is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                server.timeout = min(left, 1.0)
                try:
                    server.handle_request()
                except (OSError, ssl.SSLError):  # a client that broke off; keep listening
                    continue
            waited = round(time.monotonic() - started, 3)
        finally:
            server.server_close()
        problem = write_seen(args["replay_file"], seen) if args["replay_file"] else None
        if problem:
            result.setdefault("warnings", []).append(problem)
        result.update(changed=False, url=where, waited=waited, rejected=server.rejected, ignored=server.ignored,
                      timed_out=server.accepted is None)
        if server.rejected:
            result.setdefault("warnings", []).extend(
                f"rejected a request from {r['remote']}: {r['reason']}" for r in server.rejected[:20])
        if server.accepted is not None:
            return dict(result, received=server.accepted["body"], remote=server.accepted["remote"],
                        id=server.accepted["id"])
        summary = (f"No signed notification{' matching ' + json.dumps(args['match'], sort_keys=True) if args['match'] else ''}"
                   f" came to {where} within {args['timeout']:g} s ({len(server.rejected)} rejected, "
                   f"{server.ignored} ignored).")
        if args["on_timeout"] == "fail":
            return dict(result, failed=True, msg=summary)
        return dict(result, received=None, msg=summary + " on_timeout is continue: going on.")

    @staticmethod
    def _check(args):
        try:
            check_secret(args["secret"], "secret")
        except WebhookError as exc:
            return str(exc)
        if not 1 <= args["port"] <= 65535:
            return f"port: {args['port']} is not a TCP port (1 to 65535)"
        if not args["bind"].strip():
            return BIND_EMPTY
        if not math.isfinite(args["timeout"]) or not 0 < args["timeout"] <= MAX_TIMEOUT:
            return f"timeout: seconds, more than 0 and at most {MAX_TIMEOUT}"
        if not args["path"].startswith("/") or any(c in args["path"] for c in "?# \t\r\n"):
            return "path: an absolute URL path such as /escalator, without query or spaces"
        if bool(args["tls_certfile"]) != bool(args["tls_keyfile"]):
            return "tls_certfile, tls_keyfile: give both or neither"
        if not all(isinstance(k, str) and k for k in args["match"]):
            return "match: keys are dotted paths into the notification's JSON, such as data.status"
        return None
