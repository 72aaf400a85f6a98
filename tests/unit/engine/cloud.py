"""A twelve-component cloud on fourteen hosts, all on the local connection.

Each host is a directory; a component's version on a host is a file there. The `tasks`
upgrade method writes it, the `command` maintenance backend records every node taken out
of service and put back, so a test can replay the run and check every budget.
"""

import pathlib

import yaml

HOSTS = [f"h{n:02d}" for n in range(1, 15)]
GROUPS = {
    "ctl": HOSTS[0:3], "net": HOSTS[3:5], "cmp": HOSTS[5:11], "stor": HOSTS[11:14],
    "rack_a": ["h01", "h04", "h06", "h07", "h08", "h12"],
    "rack_b": ["h02", "h05", "h09", "h10", "h13"],
    "rack_c": ["h03", "h11", "h14"],
    "vnf_fw": ["h06", "h09"], "vnf_lb": ["h07", "h10", "h11"],
}
# name, targets, depends_on, redundancy
COMPONENTS = [
    ("keystone", "ctl", [], {"max_unavailable": 1}),
    ("glance", "ctl", ["keystone"], {"max_unavailable": 2, "groups": [{"match": "rack_*", "max_unavailable": 1}]}),
    ("placement", "ctl", ["glance"], {"max_unavailable": 1}),
    ("nova-api", "ctl", ["placement"], {"min_available": 2}),
    ("nova-conductor", "ctl", ["nova-api"], {"max_unavailable": 1}),
    ("neutron-server", "ctl", ["nova-conductor"], {"max_unavailable": 1}),
    ("neutron-agents", "net", ["neutron-server"], {"min_available": 1}),
    ("nova-compute", "cmp", ["neutron-agents"],
     {"max_unavailable": "50%", "anti_affinity": ["vnf_*"], "groups": [{"match": "rack_*", "max_unavailable": 1}]}),
    ("ovs", "cmp", ["nova-compute"], {"max_unavailable": 2, "groups": [{"match": "rack_*", "max_unavailable": 1}]}),
    ("telemetry", "ctl:cmp", ["ovs"], {"max_unavailable": "25%", "groups": [{"match": "rack_*", "max_unavailable": 2}]}),
    ("ceph-mon", "stor", [], {"max_unavailable": 1}),
    ("ceph-osd", "stor", ["ceph-mon"], {"max_unavailable": 1, "groups": [{"match": "rack_*", "max_unavailable": 1}]}),
]

UPGRADE_TASKS = """\
- name: Fail when this pair is marked to fail
  ansible.builtin.assert:
    that: not ((cloud_root ~ '/fail/' ~ escalator_component ~ '@' ~ escalator_host) is exists)
    fail_msg: injected failure
- name: Write the new version
  ansible.builtin.copy:
    dest: "{{ cloud_root }}/hosts/{{ escalator_host }}/{{ escalator_component }}.version"
    content: "{{ upgrade_version }}\\n"
    mode: "0644"
- name: Record the upgrade
  ansible.builtin.shell: echo "$(date +%s.%N) upgrade {{ escalator_host }} {{ escalator_component }}" >> {{ cloud_root }}/events
  changed_when: true
"""


SMALL = ("keystone", "glance", "ceph-mon")


def PHASES(root):  # noqa: N802 - a table, as COMPONENTS
    """Component-wide steps. Glance's check exits 1 with a warning it accepts, and fails
    on a Failure line (written when root/fail/glance-check exists); its after steps run
    on hosts of the campaign's choosing, the first with each host out of service through
    the component's maintenance backend meanwhile (it fails unless the host is out, and on
    a host H while root/fail/glance-after@H exists; the step's own enter command logs
    "step-out"), the second once (it fails while root/fail/glance-once exists)."""
    check = (f"sh -c 'echo \"Check: machine type | Result: Warning\"; "
             f"test -e {root}/fail/glance-check && echo \"Check: cells | Result: Failure\"; exit 1'")
    return {
        "keystone": {"before": [{"name": "expand", "command": f"touch {root}/keystone.expanded",
                                 "expected_duration": 5}]},
        "glance": {
            "before": [{"name": "upgrade check", "command": check, "expected_duration": 5,
                        "success": {"rc": [0, 1], "fail_if": "Result: Failure", "require": "^Check: machine type"}}],
            "after": [
                {"name": "on every controller", "run_on": "ctl", "expected_duration": 5,
                 # The step's own settings over the component's: its enter logs "step-out".
                 "maintenance": {"enter": f"touch {root}/hosts/{{{{ escalator_host }}}}/glance.out; "
                                          f"echo \"$(date +%s.%N) step-out {{{{ escalator_host }}}} glance\" "
                                          f">> {root}/events"},
                 "command": f"sh -c 'test -e {root}/hosts/{{{{ escalator_step_host }}}}/glance.out && "
                            f"test ! -e {root}/fail/glance-after@{{{{ escalator_step_host }}}} && "
                            f"touch {root}/{{{{ escalator_step_host }}}}.glance-after'"},
                {"name": "once", "run_on": "rack_b:&ctl", "once": True, "expected_duration": 5,
                 "command": f"sh -c 'test ! -e {root}/fail/glance-once && "
                            f"touch {root}/{{{{ escalator_step_host }}}}.glance-once'"},
            ],
        },
        # A step on hosts that are not the component's nodes, out of service through a
        # maintenance of its own (its events are own-out and own-in).
        "neutron-agents": {"after": [{
            "name": "on every storage host", "run_on": "stor", "expected_duration": 5,
            "maintenance": {"backend": "command", "settings": {
                "enter": f"touch {root}/hosts/{{{{ escalator_host }}}}/own.out; "
                         f"echo \"$(date +%s.%N) own-out {{{{ escalator_host }}}} step\" >> {root}/events",
                "exit": f"rm -f {root}/hosts/{{{{ escalator_host }}}}/own.out; "
                        f"echo \"$(date +%s.%N) own-in {{{{ escalator_host }}}} step\" >> {root}/events",
                "status": f"test -e {root}/hosts/{{{{ escalator_host }}}}/own.out"}},
            "command": f"sh -c 'test -e {root}/hosts/{{{{ escalator_step_host }}}}/own.out && "
                       f"touch {root}/{{{{ escalator_step_host }}}}.agents-after'"}]},
    }


def build(root, version="2.0", names=None, on_failure="rollback_batch", wait=None):
    """Write the inventory, the campaign (all twelve components, or those named) and the
    hosts at version 1.0 under root. With wait (port, secret), ceph-mon's after step
    waits for a signed notification that the storage is healthy, on that port."""
    root = pathlib.Path(root)
    chosen = [c for c in COMPONENTS if names is None or c[0] in names]
    for host in HOSTS:
        (root / "hosts" / host).mkdir(parents=True, exist_ok=True)
    (root / "fail").mkdir(exist_ok=True)
    for name, hosts in targets(names).items():
        for host in hosts:
            (root / "hosts" / host / f"{name}.version").write_text("1.0\n")
    (root / "upgrade.yml").write_text(UPGRADE_TASKS)
    events = root / "events"
    events.touch()
    ver = f"cat {root}/hosts/{{{{ escalator_host }}}}/{{{{ escalator_component }}}}.version"
    campaign = {
        "format": 1, "name": "twelve-components", "canary": True, "timeout_margin": 3,
        "components": [{
            "name": name, "targets": tg, "depends_on": deps, "version": version, "redundancy": red,
            "artifact": {"type": "package", "name": name},
            "expected_duration": "20s",
            "maintenance": {"backend": "command", "settings": {
                "enter": f"touch {root}/hosts/{{{{ escalator_host }}}}/{name}.out; "
                         f"echo \"$(date +%s.%N) out {{{{ escalator_host }}}} {name}\" >> {events}",
                "exit": f"rm -f {root}/hosts/{{{{ escalator_host }}}}/{name}.out; "
                        f"echo \"$(date +%s.%N) in {{{{ escalator_host }}}} {name}\" >> {events}",
                "status": f"test -e {root}/hosts/{{{{ escalator_host }}}}/{name}.out",
                "timeout": 30}},
            "snapshot": {"paths": [f"{root}/hosts/{{{{ escalator_host }}}}/{name}.version"]},
            "upgrade": {"method": "tasks", "tasks_file": str(root / "upgrade.yml"),
                        "version_check": {"type": "version", "command": ver}},
            "verify": [{"name": f"{name} runs", "type": "file",
                        "path": f"{root}/hosts/{{{{ escalator_host }}}}/{name}.version"}],
            "on_failure": on_failure,
            "phases": PHASES(root).get(name, {}) if not (wait and name == "ceph-mon") else {"after": [{
                "name": "storage says healthy", "expected_duration": 20,
                "wait_for_notification": {"port": wait["port"], "path": "/storage", "secret": "{{ cloud_wait_secret }}",
                                          "match": {"data.status": "HEALTH_OK"}}}]},
            **({"rollback_check": {"name": "not marked to refuse", "run_on": "ctl", "once": True,
                                   "command": f"test ! -e {root}/fail/rollback-{name}"}} if name == "glance" else {}),
        } for name, tg, deps, red in chosen],
    }
    (root / "campaign.yml").write_text(yaml.safe_dump(campaign, sort_keys=False))
    inventory = {"all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                 "cloud_root": str(root), "escalator_campaign": str(root / "campaign.yml"),
                 **({"cloud_wait_secret": wait["secret"]} if wait else {})},
        "hosts": {h: {} for h in HOSTS},
        "children": {g: {"hosts": {h: {} for h in hs}} for g, hs in GROUPS.items()},
    }}
    (root / "hosts.yml").write_text(yaml.safe_dump(inventory, sort_keys=False))
    return root


def targets(names=None):
    return {name: [h for t in tg.split(":") for h in GROUPS[t]] for name, tg, _d, _r in COMPONENTS
            if names is None or name in names}


def events(root):
    out = []
    for line in (pathlib.Path(root) / "events").read_text().splitlines():
        t, kind, host, comp = line.split()
        out.append((float(t), kind, host, comp))
    return sorted(out)
