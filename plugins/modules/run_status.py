# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# Documentation only: the action plugin of the same name does the work on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: run_status
short_description: What is running, where it is, what failed, and what running upgrade.yml again would do
version_added: 0.2.0
description:
  - Reads the state directory of upgrade runs (read only) and answers, for the run under
    way or the last one, the questions an operator asks - is a run going on, and whose;
    which phase and node it is at and its ETA (from the status file the
    C(opnfv.escalator.status) callback keeps); which nodes failed and how they were left;
    and what running C(upgrade.yml) again would do (put back the nodes a run left out of
    service, run again the steps after the last node that did not all succeed, and upgrade
    the nodes not done yet).
  - C(playbooks/status.yml) runs it and prints the answer. Scripts can read
    C(<state>/runs/<run_id>.status.json) directly.
author:
  - OPNFV Escalator developers (@opnfv)
extends_documentation_fragment:
  - opnfv.escalator.attributes
  - opnfv.escalator.attributes.CONTROLLER
attributes:
  check_mode:
    support: full
    details: It only reads.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  path:
    description: The state directory (the controller's copy when a host keeps the state).
    type: path
    required: true
  run_id:
    description: The run to describe; by default the one under way, else the last one.
    type: str
notes:
  - A run killed without its report leaves its status file saying it was running; the
    lock then names a process that is gone, and RV(running) is false.
seealso:
  - module: opnfv.escalator.run_state
"""

EXAMPLES = r"""
- name: What is the upgrade doing?
  opnfv.escalator.run_status:
    path: ~/.local/state/escalator
  register: escalator_status

- name: Say it
  ansible.builtin.debug:
    msg: "{{ escalator_status.lines }}"
"""

RETURN = r"""
run_id:
  description: The run described, or null when no run was ever planned here.
  returned: always
  type: str
  sample: 20261203T101500Z-1a2b3c4d
running:
  description: Whether a run holds the lock and its process is alive on this controller (or the lock is held from another).
  returned: always
  type: bool
lock_owner:
  description: Who holds the run lock, or null.
  returned: always
  type: str
phase:
  description: The phase the run is at, or was at when it ended (plan, preflight, stage, upgrade, rollback, report, done).
  returned: always
  type: str
eta_s:
  description: Seconds left, as the status file last estimated them; null when unknown or ended.
  returned: always
  type: float
in_progress:
  description: The nodes (component@host) between their first and last step.
  returned: always
  type: dict
failed:
  description: The nodes that failed, with how each was left.
  returned: always
  type: dict
not_done:
  description: The nodes of the plan that are neither upgraded nor already done.
  returned: always
  type: list
  elements: str
drained:
  description: The nodes a run took out of service and did not put back.
  returned: always
  type: list
  elements: str
pending:
  description: The components whose steps after their last node did not all succeed.
  returned: always
  type: list
  elements: str
resume:
  description: What running upgrade.yml again would do, one sentence each.
  returned: always
  type: list
  elements: str
lines:
  description: The answer as lines to print.
  returned: always
  type: list
  elements: str
"""
