# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import json
import os

from ansible.plugins.action import ActionBase
from ansible_collections.opnfv.escalator.plugins.plugin_utils._run_state import (
    RunState,
    RunStateError,
    process_identity,
)

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "lock": {"type": "str", "choices": ["taken", "released"]},
    "owner": {"type": "str", "default": "escalator"},
    "files": {"type": "dict"},
    "drained": {"type": "str"},
    "undrained": {"type": "str"},
}


def _text(content):
    """A file's text: a string as it is, anything else as indented JSON."""
    if isinstance(content, str):
        return content
    return json.dumps(content, indent=2, sort_keys=True, default=str) + "\n"


class ActionModule(ActionBase):
    """Run lock, run files and drained markers on the controller; see the run_state module."""

    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC,
            mutually_exclusive=[("drained", "undrained")],
            required_one_of=[("lock", "files", "drained", "undrained")],
        )
        state = RunState(args["path"])
        check = self._task.check_mode
        changed = False
        try:
            # The lock first: a refused run writes nothing.
            if args["lock"] == "taken":
                # Workers are forked by ansible-playbook: the parent is the run's own process.
                changed |= state.lock(args["owner"], check=check, process=process_identity(os.getppid()))
            for name, content in (args["files"] or {}).items():
                changed |= state.save(name, _text(content), check=check)
            if args["drained"] is not None:
                changed |= state.mark(args["drained"], True, check=check)
            if args["undrained"] is not None:
                changed |= state.mark(args["undrained"], False, check=check)
            if args["lock"] == "released":
                changed |= state.unlock(check=check)
        except (RunStateError, OSError) as exc:
            return dict(result, failed=True, changed=changed, msg=f"Run state under {state.root}: {exc}")
        result.update(changed=changed, path=state.root, lock_owner=state.owner(), drained=state.drained(),
                      taken_over=state.taken_over)
        return result
