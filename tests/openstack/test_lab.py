"""The OpenStack lab, deployed from nothing (`make integration-openstack`).

Every API answers through its HAProxy frontend, the four computes are up and mapped, the
workload is ACTIVE with its anti-affinity kept, no compute sees a database, and a second
deployment changes nothing.
"""

import json
import os
import re
import subprocess
import sys

import testinfra

from conftest import INVENTORY, ROOT, body_of, call, deploy, recap, workload


def test_the_campaign_plans_against_the_wheelhouses_built_here(tmp_path):
    """The campaign pins the sha256 of each new wheelhouse's manifest: the wheelhouses built
    on this machine (some wheels from source) must match it, or no upgrade can start."""
    proc = subprocess.run(["ansible-playbook", "-i", str(INVENTORY), "playbooks/plan.yml",
                           "-e", f"escalator_plan_file={tmp_path / 'plan.json'}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert [c["name"] for c in plan["components"]][:4] == ["keystone", "placement", "glance", "neutron"]


def test_every_api_answers_through_the_vip(lab, token, inventory):
    hv = lab
    vip = hv["lab_vip"]
    images = body_of(call(f"http://{vip}:9292/v2/images", token))
    assert [i["name"] for i in images["images"]] == ["lab-image"]
    providers = body_of(call(f"http://{vip}:8778/resource_providers", token))
    assert sorted(p["name"] for p in providers["resource_providers"]) == sorted(inventory["computes"]["hosts"])
    networks = body_of(call(f"http://{vip}:9696/v2.0/networks", token))
    assert networks == {"networks": []}
    services = body_of(call(f"http://{vip}:8774/v2.1/os-services", token))
    computes = {s["host"]: s for s in services["services"] if s["binary"] == "nova-compute"}
    assert sorted(computes) == sorted(inventory["computes"]["hosts"])
    assert {(s["state"], s["status"]) for s in computes.values()} == {("up", "enabled")}
    control = {(s["binary"], s["host"]) for s in services["services"] if s["binary"] != "nova-compute"}
    assert control == {(b, h) for b in ("nova-conductor", "nova-scheduler") for h in inventory["controllers"]["hosts"]}


def test_every_controller_serves_every_api(lab, inventory):
    hv = lab
    lb = testinfra.get_host("docker://escalator-os-lb1")
    out = lb.check_output("echo 'show servers state' | socat stdio /run/haproxy/admin.sock")
    rows = [line.split() for line in out.splitlines() if line and line[0].isdigit()]
    states = {(row[1], row[3]): int(row[5]) for row in rows if len(row) > 5}
    apis = [api["name"] for api in hv["lab_openstack_apis"]]
    assert states == {(api, host): 2 for api in apis for host in inventory["controllers"]["hosts"]}


def test_workload_is_active_and_spread(lab, inventory):
    hv = lab
    env = dict(os.environ, OS_AUTH_URL=hv["lab_keystone_url"], OS_USERNAME="admin",
               OS_PASSWORD=hv["lab_keystone_admin_password"])
    out = subprocess.run([sys.executable, str(ROOT / "lab" / "openstack_workload.py"), "show"],
                         check=True, capture_output=True, text=True, env=env).stdout
    instances = json.loads(out)["instances"]
    assert len(instances) == 6
    assert {i["status"] for i in instances} == {"ACTIVE"}
    assert {i["host"] for i in instances} <= set(inventory["computes"]["hosts"])
    vnf = [i["host"] for i in instances if i["group"] == "vnf-a"]
    assert len(vnf) == 3 and len(set(vnf)) == 3


def test_computes_do_not_see_the_databases(lab, inventory):
    for host in inventory["computes"]["hosts"]:
        node = testinfra.get_host(f"docker://escalator-{host}")
        conf = node.file("/etc/nova/nova.conf").content_string
        assert "connection" not in conf and not node.file("/etc/nova/nova-db.conf").exists
        assert node.service("nova-compute").is_running


def test_the_probe_sees_every_api_and_instance(lab):
    """lab/probe_openstack.py on the idle cloud: nothing fails, nothing is lost, and a
    server is booted and deleted through the APIs."""
    hv = lab
    out = subprocess.run([sys.executable, str(ROOT / "lab" / "probe_openstack.py"), "--vip", hv["lab_vip"],
                          "--password", hv["lab_keystone_admin_password"], "--duration", "25",
                          "--create-interval", "5"],
                         check=True, capture_output=True, text=True, timeout=300).stdout
    result = json.loads(out)
    assert {api: figures["failed"] for api, figures in result["apis"].items()} == dict.fromkeys(
        ["keystone", "glance", "nova", "placement", "neutron", "nova_create", "watch"], 0)
    assert all(figures["total"] > 0 for figures in result["apis"].values()), result["apis"]
    assert result["create_delete"]["done"] >= 1 and result["create_delete"]["failed"] == 0
    instances = result["instances"]
    assert (instances["total"], instances["lost"], instances["anti_affinity_violations"]) == (6, 0, 0)


def maintenance(node, state, tmp_path, check=False):
    """Run the nova backend on the controller: (exit code, the module's result)."""
    result_file = tmp_path / f"{node}-{state}-{check}.json"
    argv = ["ansible-playbook", "-i", str(INVENTORY), "-e", f"node={node}", "-e", f"state={state}",
            "-e", f"result_file={result_file}", "-e", f"ansible_python_interpreter={sys.executable}",
            str(ROOT / "tests" / "openstack" / "playbooks" / "nova_maintenance.yml")] + (["--check"] if check else [])
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    assert result_file.exists(), result.stdout[-3000:] + result.stderr[-2000:]
    return result.returncode, json.loads(result_file.read_text())


def compute_states(token, vip):
    services = body_of(call(f"http://{vip}:8774/v2.1/os-services?binary=nova-compute", token))
    return {s["host"]: s["status"] for s in services["services"]}


def test_nova_backend_empties_a_compute_keeps_anti_affinity_and_refuses_what_cannot_move(lab, token, tmp_path):
    """Drain the compute with the most instances: every one of them is live-migrated, the
    VNF's members stay on distinct hosts, check mode changes nothing; then a compute whose
    VNF member would have nowhere to go is refused with nothing changed; then both are
    back in service."""
    hv = lab

    def vnf_hosts():
        return [i["host"] for i in workload(hv) if i["group"] == "vnf-a"]

    # The probe boots and deletes its own instances all along: only the workload is counted.
    by_host = {}
    for i in workload(hv):
        by_host.setdefault(i["host"], []).append(i["id"])
    first = max(sorted(h for h in by_host if h in vnf_hosts()), key=lambda h: len(by_host[h]))
    rc, out = maintenance(first, "enabled", tmp_path, check=True)
    assert rc == 0 and out["changed"] and compute_states(token, hv["lab_vip"])[first] == "enabled"
    try:
        rc, out = maintenance(first, "enabled", tmp_path)
        assert rc == 0, out
        assert out["changed"] and out["after"] == {"state": "enabled", "service": "disabled", "instances": 0,
                                                   "reason": "upgrade in progress (opnfv.escalator)", "projects": {}}
        # Before, each project's instances on it, by ID (what coordination tells their managers of).
        reported = [i for ids in out["before"]["projects"].values() for i in ids]
        assert set(by_host[first]) <= set(reported) and len(reported) == len(set(reported)), out["before"]
        after = workload(hv)
        assert {i["status"] for i in after} == {"ACTIVE"} and first not in {i["host"] for i in after}
        assert len(vnf_hosts()) == len(set(vnf_hosts())) == 3
        # The three VNF members are now on the three computes left: none of them can go.
        second = vnf_hosts()[0]
        rc, out = maintenance(second, "enabled", tmp_path)
        assert rc != 0 and out["guard_refused"]
        assert "server group vnf-a (anti-affinity) has 1 member(s) on " + second in out["msg"]
        assert compute_states(token, hv["lab_vip"])[second] == "enabled"
    finally:
        rc, out = maintenance(first, "disabled", tmp_path)
    assert rc == 0 and out["after"]["service"] == "enabled", out
    assert set(compute_states(token, hv["lab_vip"]).values()) == {"enabled"}
    assert {i["status"] for i in workload(hv)} == {"ACTIVE"}


def changed_tasks(output):
    """Each task that reported a change, with the hosts (and items) it changed."""
    found, task = [], None
    for line in output.splitlines():
        header = re.match(r"^TASK \[(.*)\] \**$", line)
        if header:
            task = header.group(1)
        elif line.startswith("changed: "):
            found.append(f"{task}: {line[len('changed: '):]}")
    return found


def test_changed_tasks_are_named():
    output = "TASK [role : Write it] ****\nok: [a]\nchanged: [b]\n\nTASK [role : Other] ***\nok: [a]\n"
    assert changed_tasks(output) == ["role : Write it: [b]"]


def test_second_deployment_changes_nothing(lab):
    result = deploy()
    assert result.returncode == 0, result.stdout[-4000:]
    changed = {host: r["changed"] for host, r in recap(result.stdout).items() if r["changed"]}
    assert changed == {}, "\n".join(changed_tasks(result.stdout)) + "\n" + result.stdout[-3000:]
