#!/usr/bin/python
# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
module: maintenance_mode
short_description: Take a node out of service, or put it back, through its backend
version_added: 0.1.0
description:
  - C(state=enabled) takes O(node) out of service and waits until it really carries no
    work; C(state=disabled) puts it back and waits until it really serves again.
  - Reads first and changes nothing when the node is already in the requested state.
    A change that cannot complete within O(timeout) is undone before the module fails
    (a drain that does not empty puts the node back in service; a node that does not
    come back is left in maintenance).
  - "Backends: C(haproxy) - the runtime API over the admin socket of the load balancer
    (delegate the task there); drain, wait for current sessions to reach 0, then maint;
    back = ready, wait until HAProxy reports the server UP. C(nova) - disable the
    nova-compute service with a reason and live-migrate every instance off the host
    (openstacksdk), after checking that the other enabled computes can take them (an
    anti-affinity group keeps a host it has no member on; free VCPU and memory in Placement
    cover the instances' flavors), or only disable it (O(nova.keep_instances)); back = wait
    until its nova-compute has reported (a heartbeat), then enable. C(pacemaker) - node standby / online. C(command) -
    your own enter, exit and status commands for anything else."
author:
  - OPNFV Escalator developers (@opnfv)
extends_documentation_fragment:
  - opnfv.escalator.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
requirements:
  - openstacksdk, for O(backend=nova)
options:
  node:
    description: The node as the backend names it (HAProxy server, compute host, cluster node).
    type: str
    required: true
  state:
    description:
      - C(enabled) = in maintenance, carrying no work; C(disabled) = in service.
      - C(query) reads the node's state and changes nothing; with the C(nova) backend,
        C(before.projects) gives each project's instances on the host (what
        M(opnfv.escalator.coordinate) tells the projects' managers of).
    type: str
    choices: [enabled, disabled, query]
    required: true
  backend:
    description: How the node is taken out of service.
    type: str
    choices: [haproxy, nova, pacemaker, command]
    required: true
  timeout:
    description: Seconds to wait for the node to empty, or to serve again.
    type: int
    default: 300
  haproxy:
    description: Settings of the C(haproxy) backend.
    type: dict
    suboptions:
      socket:
        description: Admin socket, a unix socket path or C(host:port).
        type: str
        default: /run/haproxy/admin.sock
      backends:
        description: HAProxy backends the server is in.
        type: list
        elements: str
        required: true
      peers:
        description:
          - The other servers of the node's redundancy group. Before the node is taken out
            (O(state=enabled)), each one a backend carries must serve there, read on the same
            admin socket just before the drain, and each backend must carry at least one of
            them; otherwise the node is left in service and the module fails with
            RV(guard_refused). Not checked when the node is already out.
          - A peer a backend does not carry serves behind another load balancer (another
            site's) and is not counted at this one.
        type: list
        elements: str
        default: []
      peers_wait:
        description: Seconds to wait for O(haproxy.peers) to serve before refusing.
        type: int
        default: 10
  nova:
    description: Settings of the C(nova) backend.
    type: dict
    suboptions:
      cloud:
        description: Cloud name in C(clouds.yaml).
        type: str
      config_file:
        description:
          - A C(clouds.yaml) to read O(nova.cloud) from, instead of openstacksdk's usual places
            (C(OS_CLIENT_CONFIG_FILE), C(~/.config/openstack), C(/etc/openstack)).
        type: path
      reason:
        description: Disabled reason recorded on the compute service.
        type: str
        default: upgrade in progress (opnfv.escalator)
      live_migrate:
        description: Live-migrate the instances off the host.
        type: bool
        default: true
      block_migration:
        description: Block migration setting passed to Nova.
        type: str
        default: auto
      keep_instances:
        description:
          - Only disable the compute, for work on nova-compute itself (a restart leaves its
            instances running). Nothing is migrated and nothing is checked about where the
            instances could go. The host counts as out of service once none of its
            instances is building or has a task under way (O(nova.live_migrate) is then
            ignored). In both modes the host counts as out only once every boot that was
            scheduled before the disable and had no host yet has landed on a compute.
        type: bool
        default: false
  command:
    description: Settings of the C(command) backend; each is a shell command.
    type: dict
    suboptions:
      enter: {description: Takes the node out of service., type: str, required: true}
      exit: {description: Puts it back., type: str, required: true}
      status: {description: Exits 0 when the node is in maintenance., type: str, required: true}
      empty: {description: Exits 0 when the node carries no work (waited for after enter)., type: str}
      serving: {description: Exits 0 when the node serves again (waited for after exit)., type: str}
"""

EXAMPLES = r"""
- name: Drain this controller at the load balancer
  opnfv.escalator.maintenance_mode:
    node: "{{ inventory_hostname }}"
    state: enabled
    backend: haproxy
    haproxy:
      backends: [keystone]
    timeout: 60
  delegate_to: "{{ groups['lb'][0] }}"

- name: Empty a compute node
  opnfv.escalator.maintenance_mode:
    node: "{{ inventory_hostname }}"
    state: enabled
    backend: nova
    nova:
      cloud: admin
    timeout: 1800
  delegate_to: localhost
"""

RETURN = r"""
guard_refused:
  description: On failure, whether the node was left in service because O(haproxy.peers) did not serve.
  returned: failure
  type: bool
  sample: true
untouched:
  description:
    - On failure, whether the failure came before anything was asked of the backend (its state could
      not be read, for example an HAProxy admin socket that could not be reached, or the guard refused).
      The node is then as it was.
  returned: failure
  type: bool
  sample: true
before:
  description: The node's state before, as the backend reports it (C(state) and details such as sessions or instances).
  returned: always
  type: dict
  sample: {state: disabled, sessions: 3}
after:
  description: The node's state after (in check mode, the state it would reach).
  returned: always
  type: dict
  sample: {state: enabled, sessions: 0}
"""

import traceback

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.opnfv.escalator.plugins.module_utils._arguments import Module
from ansible_collections.opnfv.escalator.plugins.module_utils._maintenance import (
    BACKEND_OPTIONS,
    CommandBackend,
    GuardError,
    HAProxyBackend,
    HAProxyRuntime,
    MaintenanceError,
    NovaBackend,
    PacemakerBackend,
    set_maintenance,
    to_json,
)

try:
    import openstack
    import openstack.config
    import openstack.connection
except ImportError:
    openstack = None
    OPENSTACK_IMPORT_ERROR = traceback.format_exc()
else:
    OPENSTACK_IMPORT_ERROR = None


def _backend(module):
    p = module.params
    name = p["backend"]
    settings = p[name] if name in ("haproxy", "nova", "command") else None
    if name in ("haproxy", "command") and not settings:
        module.fail_json(msg=f"{name}: the settings of the {name} backend are required with backend={name}")

    def run(argv):
        return module.run_command(argv)
    if name == "haproxy":
        # An admin socket that cannot be reached is tried again for up to the timeout.
        api = HAProxyRuntime(settings["socket"], unreachable_for=min(p["timeout"], 120))
        return HAProxyBackend(p["node"], settings["backends"], api,
                              peers=settings["peers"], peers_wait=settings["peers_wait"])
    if name == "nova":
        if openstack is None:
            module.fail_json(msg=missing_required_lib("openstacksdk"), exception=OPENSTACK_IMPORT_ERROR)
        settings = settings or {"cloud": None, "config_file": None, "reason": "upgrade in progress (opnfv.escalator)",
                                "live_migrate": True, "block_migration": "auto", "keep_instances": False}
        if settings["config_file"]:
            region = openstack.config.OpenStackConfig(config_files=[settings["config_file"]]).get_one(
                cloud=settings["cloud"])
            conn = openstack.connection.Connection(config=region)
        else:
            conn = openstack.connect(cloud=settings["cloud"])
        return NovaBackend(p["node"], conn, settings["reason"], settings["live_migrate"], settings["block_migration"],
                           keep_instances=settings["keep_instances"])
    if name == "pacemaker":
        return PacemakerBackend(p["node"], run)
    return CommandBackend(p["node"], run, settings["enter"], settings["exit"], settings["status"],
                          settings.get("empty"), settings.get("serving"))


def main():
    module = Module(
        argument_spec=dict(
            node=dict(type="str", required=True),
            state=dict(type="str", required=True, choices=["enabled", "disabled", "query"]),
            backend=dict(type="str", required=True, choices=["haproxy", "nova", "pacemaker", "command"]),
            timeout=dict(type="int", default=300),
            haproxy=dict(type="dict", options=BACKEND_OPTIONS["haproxy"]),
            nova=dict(type="dict", options=BACKEND_OPTIONS["nova"]),
            command=dict(type="dict", options=BACKEND_OPTIONS["command"]),
        ),
        supports_check_mode=True,
    )
    if module.params["timeout"] < 0:
        module.fail_json(msg="timeout: must be at least 0")
    errors = (MaintenanceError,) + ((openstack.exceptions.SDKException,) if openstack else ())
    try:
        backend = _backend(module)
        if module.params["state"] == "query":
            dummy, before = backend.read()
            module.exit_json(changed=False, before=before, after=before)
        changed, before, after = set_maintenance(backend, module.params["state"], module.params["timeout"],
                                                 module.check_mode)
    except errors as exc:
        module.fail_json(msg=f"maintenance_mode {module.params['state']} for {module.params['node']} "
                         f"({module.params['backend']}): {exc}", guard_refused=isinstance(exc, GuardError),
                         untouched=getattr(exc, "untouched", False))
    module.exit_json(changed=changed, before=before, after=after,
                     diff=dict(before=to_json(before), after=to_json(after)))


if __name__ == "__main__":
    main()
