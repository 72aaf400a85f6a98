# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE)
"""The coordination_projects filter: the projects on a host, each with its manager."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: coordination_projects
author: OPNFV Escalator developers
version_added: 0.2.0
short_description: The projects with instances on a host, each with its manager's endpoint, for opnfv.escalator.coordinate
description:
  - Takes what was found on a host - a mapping of project ID to the list of its instance IDs
    there (the JSON a campaign's C(coordination.instances.command) prints, or
    C(before.projects) of M(opnfv.escalator.maintenance_mode) with O(opnfv.escalator.maintenance_mode#module:state=query)) -
    and the campaign's C(coordination.projects) (project ID to C(url) and C(secret); the ID
    V(*) stands for every project without an entry of its own).
  - Returns C(notify), the M(opnfv.escalator.coordinate) O(opnfv.escalator.coordinate#module:projects) list, and
    C(unregistered), the projects with instances there and no manager.
  - Anything else than a mapping of text to lists of text is an error naming what is wrong.
options:
  _input:
    description: Project ID to instance IDs on the host.
    type: dict
    required: true
  managers:
    description: Project ID to its manager's C(url) and C(secret).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Tell the managers
  opnfv.escalator.coordinate:
    projects: "{{ (found | opnfv.escalator.coordination_projects(campaign.coordination.projects)).notify }}"
    session_id: s-1
    state: MAINTENANCE
    port: 12790
"""

RETURN = r"""
_value:
  description: C(notify) (project_id, url, secret, instances per project with a manager) and C(unregistered) (project IDs).
  type: dict
"""


def coordination_projects(found, managers):
    if not isinstance(found, dict):
        raise AnsibleFilterError(f"the instances found: a mapping of project ID to a list of instance IDs, "
                                 f"not {type(found).__name__}")
    if not isinstance(managers, dict):
        raise AnsibleFilterError("coordination.projects: a mapping of project ID to its manager's url and secret")
    notify, unregistered = [], []
    for project, instances in sorted(found.items(), key=lambda kv: str(kv[0])):
        if not isinstance(instances, list) or not all(isinstance(i, str) and i for i in instances):
            raise AnsibleFilterError(f"the instances found: {str(project)[:80]} must have a list of instance IDs "
                                     "(text)")
        if not instances:
            continue
        manager = managers.get(project, managers.get("*"))
        if manager is None:
            unregistered.append(str(project))
            continue
        notify.append({"project_id": str(project), "url": manager["url"], "secret": manager["secret"],
                       "instances": list(instances)})
    return {"notify": notify, "unregistered": unregistered}


class FilterModule:
    """The collection's filters."""

    def filters(self):
        return {"coordination_projects": coordination_projects}
