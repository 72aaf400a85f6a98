# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# This file holds the documentation only: the work is done by the action plugin of the
# same name, on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: run_state
short_description: The run lock, run files and drained markers of upgrade runs, on the controller
version_added: 0.1.0
description:
  - Keeps the state directory of upgrade runs on the controller, in the process of the
    play itself (no module is started, nothing is sent to a host).
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
  - In one call the lock is taken first, so a refused run writes nothing; it is released last.
author:
  - OPNFV Escalator developers (@opnfv)
extends_documentation_fragment:
  - opnfv.escalator.attributes
  - opnfv.escalator.attributes.CONTROLLER
attributes:
  check_mode:
    support: full
    details: In check mode the lock is still refused when another run holds it; nothing is written.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  path:
    description:
      - The state directory on the controller; created with C(runs/) and C(drained/) when
        the lock is taken.
    type: path
    required: true
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
notes:
  - At least one of O(lock), O(files), O(drained) or O(undrained) is required.
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
taken_over:
  description:
    - The owner of a lock left behind by a run whose process is gone (killed, or stopped
      with Ctrl-C), when this call took it over; null otherwise.
  returned: success
  type: str
  sample: run 20261122T101500Z-1a2b3c4d
"""
