# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
# Documentation only: the action plugin of the same name does the work on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
module: html_report
short_description: A run's report as one self-contained HTML page, with its timeline and availability
version_added: 0.2.0
description:
  - Writes C(<run_id>.<name>.html) beside the run's plan, report and audit log - one file
    that opens without a network and runs no script - holding the plan, a timeline (one
    row per node - out of service, upgrade, verify, restore, and the moments it failed),
    the availability during the run (requests and failures per second, from the records of
    a traffic probe, when one ran), the versions before and after, and the audit events.
  - The charts are drawn by matplotlib, as inline SVG.
  - C(upgrade.yml) and C(rollback.yml) write it at the end of every run, with the probe
    records named in C(escalator_probe_records).
author:
  - OPNFV Escalator developers (@opnfv)
extends_documentation_fragment:
  - opnfv.escalator.attributes
  - opnfv.escalator.attributes.CONTROLLER
attributes:
  check_mode:
    support: full
    details: In check mode nothing is written.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: The page is written again each time.
options:
  path:
    description: The runs directory (C(<state>/runs)).
    type: path
    required: true
  run_id:
    description: The run.
    type: str
    required: true
  name:
    description: Which report of the run - V(report) (an upgrade) or V(rollback).
    type: str
    default: report
  probe_records:
    description:
      - Files of JSON lines, one request each, with C(at) (when it was sent, in seconds
        since the epoch) and C(ok) (whether it succeeded), as C(lab/probe.py --records)
        writes them. Lines without C(at) are skipped.
    type: list
    elements: path
    default: []
  dest:
    description: Where to write the page; by default beside the run's report.
    type: path
notes:
  - Needs matplotlib on the controller for the charts; without it the page says so and
    holds the rest.
"""

EXAMPLES = r"""
- name: The last run's report as a page, with what the traffic probe saw
  opnfv.escalator.html_report:
    path: ~/.local/state/escalator/runs
    run_id: 20261203T101500Z-1a2b3c4d
    probe_records: [/tmp/probe-records.jsonl]
"""

RETURN = r"""
dest:
  description: The page written.
  returned: success
  type: str
  sample: /var/lib/escalator/runs/20261203T101500Z-1a2b3c4d.report.html
audit_events:
  description: How many audit events it shows.
  returned: success
  type: int
probe_requests:
  description: How many probe requests it counts.
  returned: success
  type: int
"""
