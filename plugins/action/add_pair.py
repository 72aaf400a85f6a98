# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

import json

from ansible.errors import AnsibleError
from ansible_collections.opnfv.escalator.plugins.plugin_utils._action import EscalatorAction

ARGUMENT_SPEC = {
    "name": {"type": "str", "required": True},
    "host": {"type": "str"},
    "groups": {"type": "list", "elements": "str", "required": True},
    "vars": {"type": "dict", "default": {}},
}

# Variables Ansible computes for every host (not inventory variables): the pair gets its own.
MAGIC = frozenset((
    "ansible_check_mode", "ansible_config_file", "ansible_diff_mode", "ansible_facts", "ansible_forks",
    "ansible_inventory_sources", "ansible_playbook_python", "ansible_run_tags", "ansible_skip_tags",
    "ansible_verbosity", "ansible_version", "group_names", "groups", "inventory_dir", "inventory_file",
    "inventory_hostname", "inventory_hostname_short", "omit", "playbook_dir", "role_names",
))


def _plain(value):
    return json.loads(json.dumps(value, default=str))


class ActionModule(EscalatorAction):
    """Add one (component, host) pair, or a batch witness, to the in-memory inventory; see
    the add_pair module for the documentation."""

    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        host = args["host"]
        if host is None:
            # A witness runs on the controller, with the Python that runs Ansible.
            host_vars = {"ansible_connection": "local", "escalator_witness": True,
                         "ansible_python_interpreter": task_vars.get("ansible_playbook_python", "python3")}
        else:
            hostvars = task_vars.get("hostvars") or {}
            if host not in hostvars:
                return dict(result, failed=True, msg=f"add_pair {args['name']}: host {host} is not in the inventory")
            host_vars = self._inventory_vars(hostvars[host])
            host_vars.setdefault("ansible_host", host)
            host_vars.update(escalator_host=host, escalator_witness=False)
        host_vars.update(args["vars"])
        # Values are as the real host sees them: they are inventory data, possibly secrets.
        result.update(changed=False, _ansible_no_log=True,
                      add_host={"host_name": args["name"], "groups": args["groups"], "host_vars": host_vars})
        return result

    @staticmethod
    def _inventory_vars(real):
        """The real host's inventory and group variables, rendered as that host sees them.

        A variable that cannot be rendered for that host (it refers to something only a
        play defines) is left out, as it could not serve the host either.
        """
        out = {}
        for key in real.keys():
            if key in MAGIC or key.startswith("ansible_play"):
                continue
            try:
                out[key] = _plain(real[key])
            except AnsibleError:
                continue
        return out
