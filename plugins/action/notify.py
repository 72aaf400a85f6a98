# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import math
import time

from ansible_collections.opnfv.escalator.plugins.plugin_utils._action import EscalatorAction
from ansible_collections.opnfv.escalator.plugins.plugin_utils._webhooks import (
    EVENTS,
    WebhookError,
    check_webhooks,
    deliver_all,
)

ARGUMENT_SPEC = {
    "webhooks": {"type": "list", "elements": "raw", "required": True, "no_log": False},
    "event": {"type": "str", "required": True, "choices": list(EVENTS)},
    "run_id": {"type": "str"},
    "campaign": {"type": "str"},
    "component": {"type": "str"},
    "host": {"type": "str"},
    "code": {"type": "str"},
    "message": {"type": "str"},
    "next": {"type": "str"},
    "data": {"type": "dict", "default": {}},
    "max_seconds": {"type": "float", "default": 10},
    "retries": {"type": "int", "default": 3},
}


class ActionModule(EscalatorAction):
    """Send one event to the webhooks that take it; see the notify module."""

    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        # The result never echoes the arguments: they hold the secrets.
        result["deliveries"] = []
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if not (isinstance(args["max_seconds"], float) and math.isfinite(args["max_seconds"])
                and 0 < args["max_seconds"] <= 300):
            return dict(result, failed=True, msg="max_seconds: more than 0 and at most 300")
        if not 0 <= args["retries"] <= 10:
            return dict(result, failed=True, msg="retries: 0 to 10")
        try:
            hooks = check_webhooks(args["webhooks"])
        except WebhookError as exc:
            return dict(result, failed=True, msg=str(exc))
        event = {k: args[k] for k in ("run_id", "campaign", "component", "host", "code", "message", "next")
                 if args[k] is not None}
        event.update(event=args["event"], time=time.time(), data=args["data"])
        if self._task.check_mode:
            return dict(result, changed=False, msg="check mode: nothing was sent")
        deliveries = deliver_all(hooks, event, args["max_seconds"], retries=args["retries"])
        failed = [d for d in deliveries if not d["ok"]]
        if failed:
            result["warnings"] = [
                f"{args['event']} was not delivered to webhook {d['name']} after {d['attempts']} attempt(s): {d['error']}"
                for d in failed]
        return dict(result, changed=False, deliveries=deliveries)
