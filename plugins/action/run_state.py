# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import os

from ansible.errors import AnsibleConnectionFailure
from ansible_collections.opnfv.escalator.plugins.plugin_utils._action import EscalatorAction
from ansible_collections.opnfv.escalator.plugins.module_utils._run_state import (
    RunState,
    RunStateError,
    apply,
    process_identity,
)
from ansible_collections.opnfv.escalator.plugins.modules.run_state import (
    ARGUMENT_SPEC,
    MUTUALLY_EXCLUSIVE,
    REQUIRED_ONE_OF,
)


class ActionModule(EscalatorAction):
    """Run lock, run files and drained markers; see the run_state module.

    On the controller, in the play's own process. With host_path, the state is kept on the
    task's host: the module makes the change there first (the lock lives only there), then
    the controller's copy at path is brought in step."""

    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(
            argument_spec=ARGUMENT_SPEC, mutually_exclusive=MUTUALLY_EXCLUSIVE, required_one_of=REQUIRED_ONE_OF)
        if args["pull"] and not args["host_path"]:
            return dict(result, failed=True, msg="pull: needs host_path, the state directory on the host that keeps it")
        # Workers are forked by ansible-playbook: the parent is the run's own process.
        process = process_identity(os.getppid())
        local = RunState(args["path"])
        check = self._task.check_mode
        changed = False
        try:
            if args["host_path"]:
                where = ", ".join(task_vars.get("ansible_delegated_vars", {})) or "the task's host"
                try:
                    remote = self._execute_module(
                        module_name="opnfv.escalator.run_state", task_vars=task_vars,
                        module_args={k: v for k, v in dict(args, process=process).items() if v is not None})
                except AnsibleConnectionFailure as exc:
                    # A failure, not an unreachable host: the play's rescue and report still run.
                    return dict(result, failed=True, changed=False,
                                msg=f"{where} keeps the run state and cannot be reached: {exc}")
                if remote.get("failed"):
                    msg = remote.get("msg") or remote.get("module_stderr") or "the run_state module failed"
                    return dict(result, failed=True, changed=False, msg=f"On {where}: {msg}")
                changed = remote["changed"]
                if args["pull"]:
                    # The copy is the controller's cache of the state: refreshed in check mode too.
                    local.mirror(remote["state_files"])
                mirrored = dict(args, lock=None)  # the lock lives on the host only
                if any(mirrored.get(k) is not None for k in ("files", "drained", "undrained", "pending", "settled")):
                    apply(local, mirrored, check=check)
                result.update(changed=changed, path=remote["path"], copy=local.root, lock_owner=remote["lock_owner"],
                              drained=remote["drained"], pending=remote["pending"], taken_over=remote["taken_over"])
                if args["pull"]:
                    result["files"] = sorted(remote["state_files"])
                return result
            changed = apply(local, args, check=check, process=process)
        except (RunStateError, OSError) as exc:
            return dict(result, failed=True, changed=changed, msg=f"Run state under {local.root}: {exc}")
        result.update(changed=changed, path=local.root, lock_owner=local.owner(), drained=local.drained(),
                      pending=local.pending(), taken_over=local.taken_over)
        return result
