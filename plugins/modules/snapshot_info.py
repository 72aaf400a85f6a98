#!/usr/bin/python
# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: snapshot_info
short_description: List the snapshots on a node and their manifests
version_added: 0.1.0
description:
  - Lists the complete snapshots under O(root), oldest first, with their manifests.
    Snapshots still being written are not listed. Returns an empty list when there is
    none.
author:
  - OPNFV Escalator developers (@opnfv)
extends_documentation_fragment:
  - opnfv.escalator.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  root:
    description: Directory that holds the snapshots.
    type: path
    default: /var/lib/escalator/snapshots
  name:
    description: Only this snapshot.
    type: str
  run_id:
    description: Only the snapshots of this run.
    type: str
"""

EXAMPLES = r"""
- name: Snapshots of this run
  opnfv.escalator.snapshot_info:
    run_id: "{{ run_id }}"
  register: snapshots
"""

RETURN = r"""
snapshots:
  description: Manifests of the snapshots, oldest first, as the snapshot module returns them.
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.opnfv.escalator.plugins.module_utils._arguments import Module
from ansible_collections.opnfv.escalator.plugins.module_utils._snapshot import SnapshotStore


def main():
    module = Module(
        argument_spec=dict(
            root=dict(type="path", default="/var/lib/escalator/snapshots"),
            name=dict(type="str"),
            run_id=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    found = SnapshotStore(p["root"], module.run_command).list()
    found = [m for m in found if (not p["name"] or m.get("name") == p["name"])
             and (not p["run_id"] or m.get("run_id") == p["run_id"])]
    module.exit_json(changed=False, snapshots=found)


if __name__ == "__main__":
    main()
