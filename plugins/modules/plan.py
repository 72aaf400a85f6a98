# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# This file holds the documentation only: the work is done by the action plugin of the
# same name, on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: plan
short_description: Plan an upgrade campaign against the inventory
version_added: 0.1.0
description:
  - Reads an upgrade campaign (what must be true after the upgrade), validates it, checks
    its artifacts against their sha256 sums, resolves its targets in the inventory and
    computes the plan (how to get there safely) - components in dependency order, and for
    each the hosts in upgrade order with the batch sizes a play can use as C(hosts) and
    C(serial).
  - Every batch respects the redundancy budget of every group its hosts belong to; the
    first batch of each component is a canary of one host unless the campaign sets
    C(canary) to C(false).
  - Runs on the controller only and changes nothing on any host. Every problem is
    reported with the path of the campaign field it concerns.
  - The campaign format is described in C(docs/campaign.md) of the collection.
author:
  - OPNFV Escalator developers (@opnfv)
extends_documentation_fragment:
  - opnfv.escalator.attributes
  - opnfv.escalator.attributes.CONTROLLER
attributes:
  check_mode:
    support: full
    details: In check mode the plan is computed and returned but O(dest) is not written.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details: Each call creates a new run id unless O(run_id) is given.
options:
  campaign:
    description:
      - The campaign, as the path of a YAML file (relative paths are looked up like
        other files of the play) or as a mapping.
    type: raw
    required: true
  dest:
    description:
      - Write the plan as JSON to this file on the controller.
    type: path
  down_hosts:
    description:
      - Hosts already out of service, for example those that failed a health check.
        They count against every budget they belong to and are left out of the batches.
        Each must be a host of the inventory.
    type: list
    elements: str
    default: []
  check_artifacts:
    description:
      - Verify every C(wheelhouse) and C(file) artifact on the controller against its
        sha256 sums.
    type: bool
    default: true
  run_id:
    description:
      - Use this run id instead of creating one.
    type: str
"""

EXAMPLES = r"""
- name: Plan the lab campaign and keep the plan with the run
  opnfv.escalator.plan:
    campaign: "{{ playbook_dir }}/../campaigns/lab.yml"
    dest: /var/log/escalator/plan.json
  register: upgrade_plan

- name: Show it
  ansible.builtin.debug:
    msg: "{{ upgrade_plan.table_lines }}"

- name: Plan around a controller that is known to be down
  opnfv.escalator.plan:
    campaign: campaign.yml
    down_hosts: [ctl2]
"""

RETURN = r"""
plan:
  description: The plan.
  returned: success
  type: dict
  contains:
    plan_format:
      description: Version of the plan format.
      type: int
      sample: 2
    run_id:
      description: Identifier of this run, used in snapshot names and logs.
      type: str
      sample: 20261122T001500Z-3f2a9c1e
    order:
      description: Component names in the order they are upgraded.
      type: list
      elements: str
      sample: [keystone]
    components:
      description:
        - One entry per component, in upgrade order, with C(hosts) (upgrade order),
          C(batches) (sizes, usable as C(serial)), C(batch_hosts), C(canary),
          C(lower_bound), C(budgets), C(expected_duration_s), C(timeout_s),
          C(total_expected_s), C(phases) and the campaign's settings for the component.
      type: list
      elements: dict
    hosts_total:
      description: Number of host upgrades in the plan.
      type: int
      sample: 3
    batches_total:
      description: Number of batches in the plan.
      type: int
      sample: 3
    expected_duration_s:
      description: Expected duration of the whole run, in seconds.
      type: float
      sample: 480.0
    run_hosts:
      description:
        - The upgrade play's hosts in order - each batch's (component, host) pairs, named
          C(<component>@<host>), then the batch's witness (C(host) null); see
          M(opnfv.escalator.add_pair).
      type: list
      elements: dict
    serial:
      description: The upgrade play's batch sizes, witnesses included.
      type: list
      elements: int
    batches:
      description: Every batch of the run, with its component, pairs and witness.
      type: list
      elements: dict
    rollback_hosts:
      description: The rollback play's hosts - pairs last upgraded first, each followed by a witness.
      type: list
      elements: dict
campaign_text:
  description: The campaign as it was read, kept with the run so every later step uses this copy.
  returned: success
  type: str
table:
  description: The plan as a table for people.
  returned: success
  type: str
table_lines:
  description: RV(table) split into lines, for C(ansible.builtin.debug).
  returned: success
  type: list
  elements: str
dest:
  description: Where the plan was written.
  returned: when O(dest) is set
  type: str
errors:
  description: Every problem found, with the path of the campaign field it concerns.
  returned: failure
  type: list
  elements: dict
  sample: [{path: "components[0].redundancy.max_unavailable", message: must be at least 1}]
"""
