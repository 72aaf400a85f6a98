# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""The catalogue of error codes: every way a run of the engine can fail has one, and the
report, the alarms, the audit log and the playbook's last message carry it. Private to
the opnfv.escalator collection; docs/operations.md holds the same table."""

from __future__ import annotations

# code: (what happened, what to do)
CATALOGUE = {
    "ESC-PLAN-001": ("The run was refused when planning: the campaign, the inventory or a setting is wrong "
                     "(the message names the field). Nothing was changed.",
                     "Fix what the message names and run again."),
    "ESC-AUTH-001": ("escalator_auth is keystone and Keystone did not vouch for the user: no token or password, "
                     "an expired or revoked token, or no required role on the project. Nothing was changed.",
                     "Get a token of a user with the role (openstack token issue) and run again."),
    "ESC-PREFLIGHT-001": ("A target failed its preflight checks (health, room for snapshots, load balancer, "
                          "version) or could not be reached. Nothing was changed.",
                          "Repair the target, or leave it out with -e escalator_exclude=HOST; run again."),
    "ESC-LOCK-001": ("Another run holds the run lock, or the host that keeps the run state could not be "
                     "reached. Nothing was changed.",
                     "See what runs with playbooks/status.yml; wait for it, or remove a lock left from "
                     "another machine as the message says."),
    "ESC-STAGE-001": ("Installing the new version beside the old one failed on a target. No service was touched.",
                      "Fix the cause in the message (artifact, disk, network) and run again."),
    "ESC-STEP-001": ("A step before a component's first node failed. No node of the component was touched.",
                     "Fix the cause and run again: the step runs again."),
    "ESC-STEP-002": ("A step after a component's last node failed. Every node of the component runs the new "
                     "version.", "Fix the cause and run upgrade.yml again: the steps run again."),
    "ESC-DRAIN-001": ("The guard refused to take the node out: the rest of its group would not serve "
                      "without it. Nothing was changed.",
                      "Repair the group's other nodes (or its budget) and run again."),
    "ESC-DRAIN-002": ("Taking the node out of service failed (load balancer, Nova, Pacemaker). The node was put back "
                      "(left as it was when the backend could not even be read: an admin socket that stayed "
                      "unreachable).",
                      "Check the backend named in the message and run again."),
    "ESC-SNAPSHOT-001": ("Saving the node's snapshot failed. The node was put back, unchanged.",
                         "Make room or fix the snapshot settings, then run again."),
    "ESC-UPGRADE-001": ("Switching the node to the new version failed. The node was restored and put back "
                        "(or left out of service with on_failure pause).", "Fix the cause and run again."),
    "ESC-UPGRADE-002": ("A step of the node did not finish within its time limit (hung) and was stopped. The "
                        "node was restored and put back.",
                        "Find why the step hangs (service restart, install) and run again."),
    "ESC-VERIFY-001": ("The node failed its checks after the upgrade. It was restored to the old version and "
                       "put back.", "Read the failed check in the message; fix and run again."),
    "ESC-DRAIN-003": ("Putting the upgraded node back into service failed. It was restored and put back.",
                      "Check the backend named in the message and run again."),
    "ESC-RESTORE-001": ("The node failed and its restore failed too: it is left out of service.",
                        "Repair the node by hand, then run upgrade.yml again (it puts the node back), or "
                        "rollback.yml."),
    "ESC-COORD-001": ("A project's manager (VNFM) declined the host's maintenance (NACK), did not answer in time, "
                      "could not be reached, or the project has no manager registered, and the coordination "
                      "policy is fail. The host was left in service, unchanged.",
                      "Read the manager's answer in the report and audit log; run again when it agrees."),
    "ESC-COORD-002": ("As ESC-COORD-001, with the coordination policy pause: the run paused before the host, "
                      "which was left in service, unchanged.",
                      "Run upgrade.yml again when the manager is ready: it resumes with that host."),
    "ESC-COORD-003": ("The managers kept host(s) out of the maintenance (policy skip_host): the component's other "
                      "hosts were upgraded, its steps after the last node were not run and the run stopped "
                      "after the component.",
                      "Run upgrade.yml again when the managers agree: it resumes with the hosts left."),
    "ESC-NODE-001": ("A node became unreachable or crashed during its upgrade; it is left as it was.",
                     "Bring the host back and run again; playbooks/status.yml says what the run would do."),
    "ESC-ROLLBACK-001": ("The rollback was refused: no such run, nothing to roll back, or a component's rollback "
                         "check failed. Nothing was changed.", "Read the message; see docs/upgrade.md#rollback."),
    "ESC-ROLLBACK-002": ("A pair could not be rolled back.", "Repair it by hand and run rollback.yml again."),
    "ESC-STATE-001": ("The report could not be kept on the host that keeps the run state; it is kept on the "
                      "controller.", "Copy it there once the host is back, as the message says."),
    "ESC-RUN-001": ("The run stopped for a reason the engine did not classify.",
                    "Report it: every failure should carry one of the codes above."),
}
