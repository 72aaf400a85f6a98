# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# The action plugin of the same name does the work on the controller; it runs this module
# only on a host that keeps the state for every controller (host_path).

from __future__ import annotations

DOCUMENTATION = r"""
module: run_state
short_description: The run lock, run files and drained markers of upgrade runs
version_added: 0.1.0
description:
  - Keeps the state directory of upgrade runs on the controller, in the process of the
    play itself (no module is started, nothing is sent to a host).
  - With O(host_path), the state is kept on the host the task runs on (name it with
    C(delegate_to)), so that runs from throwaway controllers (AWX job containers) still see
    the lock and the runs before them. The change is made there first, and the lock lives
    only there; O(path) is then the controller's copy, kept in step, that plays read.
  - O(lock=taken) takes the run lock, a directory created with one atomic C(mkdir) and an
    C(owner) file inside; a second run is refused with the owner named. O(lock=released)
    removes it.
  - The lock also records the process of the run (host, pid and start time). A lock whose
    process is gone from this machine (the run was killed or stopped with Ctrl-C) is
    taken over, and RV(taken_over) names its owner; a lock held from another machine is
    always refused.
  - O(files) writes files of the run (its plan, its report) atomically.
  - O(drained) records that a run takes a node out of service, O(undrained) that it put it
    back. A run killed in between leaves the marker, so the next run knows the node is out
    because of Escalator and resumes it instead of refusing to start.
  - O(pending) records that a component's steps after its last node have started,
    O(settled) that they all succeeded. A run that stopped or was killed in between leaves
    the marker, so the next run runs those steps again, though every node of the component
    is done.
  - In one call the lock is taken first, so a refused run writes nothing; it is released last.
author:
  - OPNFV Escalator developers (@opnfv)
extends_documentation_fragment:
  - opnfv.escalator.attributes
  - opnfv.escalator.attributes.CONTROLLER
attributes:
  platform:
    description: The controller; with O(host_path), any POSIX host with Python.
    support: full
    platforms: posix
  check_mode:
    support: full
    details: >-
      In check mode the lock is still refused when another run holds it; nothing is
      written, except that O(pull) refreshes the controller's copy.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  path:
    description:
      - The state directory on the controller; created with C(runs/), C(drained/) and
        C(pending/) when the lock is taken.
      - With O(host_path), the controller's copy of the state kept on the task's host.
    type: path
    required: true
  host_path:
    description:
      - The state directory on the host the task runs on (C(delegate_to)), which then keeps
        the state; O(path) is its copy on the controller.
    type: path
  pull:
    description:
      - With O(host_path), make O(path) an exact copy of the state kept on the host (lock
        aside) before anything else. Plays do this first, as they read the copy.
    type: bool
  process:
    description:
      - Set by the action plugin when it runs the module on the host that keeps the state -
        the identity of the run's process on the controller, recorded with the lock.
    type: str
  lock:
    description:
      - V(taken) takes the run lock for O(owner); taking it again for the same owner changes
        nothing. V(released) releases it, whoever holds it.
    type: str
    choices: [taken, released]
  owner:
    description:
      - Who takes the lock, written to its C(owner) file and shown to a run that is refused.
    type: str
    default: escalator
  files:
    description:
      - Files to write, as a mapping of a path inside O(path) to its content. A string is
        written as it is, anything else as indented JSON. A file that already holds the
        content is left alone.
    type: dict
  drained:
    description:
      - A node that the run takes out of service now.
    type: str
  undrained:
    description:
      - A node that the run has put back in service.
    type: str
  pending:
    description:
      - A component whose steps after its last node the run starts now.
    type: str
  settled:
    description:
      - A component whose steps after its last node have all succeeded.
    type: str
notes:
  - At least one of O(lock), O(files), O(drained), O(undrained), O(pending), O(settled) or
    O(pull) is required.
  - A lock taken from another machine is never taken over - on a host that keeps the state,
    a run whose controller container was killed leaves its lock, and the refusal says
    which directory to remove.
seealso:
  - module: opnfv.escalator.maintenance_mode
"""

EXAMPLES = r"""
- name: Take the run lock and keep the plan with the run
  opnfv.escalator.run_state:
    path: /var/lib/escalator
    lock: taken
    owner: run {{ plan.run_id }}
    files: "{{ {'runs/' ~ plan.run_id ~ '.plan.json': plan} }}"

- name: Record that the run takes this node out of service
  opnfv.escalator.run_state:
    path: /var/lib/escalator
    drained: "{{ inventory_hostname }}"

- name: Release the run lock
  opnfv.escalator.run_state:
    path: /var/lib/escalator
    lock: released

- name: Copy the state kept on host db1 to the controller, before anything reads it
  opnfv.escalator.run_state:
    path: ~/.local/state/escalator/hosts/db1
    host_path: /var/lib/escalator
    pull: true
  delegate_to: db1
"""

RETURN = r"""
path:
  description: The state directory, absolute.
  returned: success
  type: str
  sample: /var/lib/escalator
lock_owner:
  description: Who holds the lock after the call, or null when it is free.
  returned: success
  type: str
  sample: run 20261122T101500Z-1a2b3c4d
drained:
  description: The nodes recorded as taken out of service by a run, after the call.
  returned: success
  type: list
  elements: str
  sample: [ctl1]
pending:
  description: The components whose steps after their last node a run started and did not finish, after the call.
  returned: success
  type: list
  elements: str
  sample: [nova-compute]
taken_over:
  description:
    - The owner of a lock left behind by a run whose process is gone (killed, or stopped
      with Ctrl-C), when this call took it over; null otherwise.
  returned: success
  type: str
  sample: run 20261122T101500Z-1a2b3c4d
files:
  description: With O(pull), the files copied from the host that keeps the state.
  returned: when pull is true
  type: list
  elements: str
  sample: [runs/20261122T101500Z-1a2b3c4d.plan.json]
"""

from ansible_collections.opnfv.escalator.plugins.module_utils._arguments import Module
from ansible_collections.opnfv.escalator.plugins.module_utils._run_state import RunState, RunStateError, apply

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "host_path": {"type": "path"},
    "lock": {"type": "str", "choices": ["taken", "released"]},
    "owner": {"type": "str", "default": "escalator"},
    "files": {"type": "dict"},
    "drained": {"type": "str"},
    "undrained": {"type": "str"},
    "pending": {"type": "str"},
    "settled": {"type": "str"},
    "pull": {"type": "bool"},
    "process": {"type": "str"},
}
MUTUALLY_EXCLUSIVE = [("drained", "undrained"), ("pending", "settled")]
REQUIRED_ONE_OF = [("lock", "files", "drained", "undrained", "pending", "settled", "pull")]


def main():
    """On the host that keeps the state: carry out the request at host_path."""
    module = Module(argument_spec=ARGUMENT_SPEC, mutually_exclusive=MUTUALLY_EXCLUSIVE,
                    required_one_of=REQUIRED_ONE_OF, supports_check_mode=True)
    args = module.params
    state = RunState(args["host_path"] or args["path"])
    try:
        changed = apply(state, args, check=module.check_mode, process=args["process"])
    except (RunStateError, OSError) as exc:
        module.fail_json(msg=f"Run state under {state.root}: {exc}")
    result = {"changed": changed, "path": state.root, "lock_owner": state.owner(), "drained": state.drained(),
              "pending": state.pending(), "taken_over": state.taken_over}
    if args["pull"]:
        result["state_files"] = state.files()
    module.exit_json(**result)


if __name__ == "__main__":
    main()
