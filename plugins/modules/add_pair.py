# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# This file holds the documentation only: the work is done by the action plugin of the
# same name, on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: add_pair
short_description: Add a (component, host) pair of an upgrade plan to the in-memory inventory
version_added: 0.2.0
description:
  - An upgrade walks (component, host) pairs, not hosts, so a host that carries several
    components is upgraded once per component, each pair with its own result, snapshot
    and rollback. Ansible keeps one entry per host name in a play, so each pair is a host
    alias of its own, named C(<component>@<host>).
  - The alias gets the real host's inventory and group variables as that host sees them
    (so a campaign's templates render exactly as on the real host), connects to the same
    target (C(ansible_host) defaults to the real host's name), and knows the real host as
    C(escalator_host).
  - Without O(host) it adds a batch witness instead, a host on the controller's local
    connection that never fails. It keeps a batch whose every pair failed or became
    unreachable from ending the playbook, and checks the batch's pairs once they are done.
  - Used by the collection's playbooks; the result is hidden (C(no_log)) because it holds
    the host's variables.
author:
  - OPNFV Escalator developers (@opnfv)
extends_documentation_fragment:
  - opnfv.escalator.attributes
  - opnfv.escalator.attributes.CONTROLLER
attributes:
  check_mode:
    support: full
    details: The in-memory inventory is changed in check mode too; nothing else is.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  name:
    description:
      - The alias, C(<component>@<host>) for a pair.
    type: str
    required: true
  host:
    description:
      - The real inventory host the pair runs on. Omitted for a batch witness.
    type: str
  groups:
    description:
      - Groups the alias is put in, in order; a play over such a group walks the aliases
        in the order they were added.
    type: list
    elements: str
    required: true
  vars:
    description:
      - More variables for the alias (they win over the real host's).
    type: dict
    default: {}
notes:
  - C(inventory_hostname) and C(group_names) are the alias's own; campaign templates that
    need the real host's name use C(escalator_host).
"""

EXAMPLES = r"""
- name: Add every pair and witness of the plan, in upgrade order
  opnfv.escalator.add_pair:
    name: "{{ item.name }}"
    host: "{{ item.host | default(omit, true) }}"
    groups: [escalator_run]
    vars:
      escalator_component: "{{ item.component }}"
      escalator_batch: "{{ item.batch }}"
  loop: "{{ plan.run_hosts }}"
"""

RETURN = r"""
add_host:
  description: The alias, its groups and variables, as Ansible's add_host returns them.
  returned: success
  type: dict
"""
