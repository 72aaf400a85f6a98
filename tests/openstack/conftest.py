"""The OpenStack lab, deployed once for every test here (`make integration-openstack`)."""

import json
import os
import pathlib
import re
import subprocess
import sys
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
INVENTORY = ROOT / "inventories" / "lab-openstack"
os.environ["PATH"] = f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
os.environ.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))


def deploy():
    return subprocess.run(["ansible-playbook", "-i", str(INVENTORY), "lab/deploy-openstack.yml"],
                          cwd=ROOT, capture_output=True, text=True, check=False)


def recap(output):
    """host -> {ok, changed, failed, ...} from a PLAY RECAP."""
    return {m.group(1): dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2)))
            for m in re.finditer(r"^(\S+)\s+: (ok=.*)$", output, re.M)}


@pytest.fixture(scope="session")
def inventory():
    out = subprocess.run(["ansible-inventory", "-i", str(INVENTORY), "--list"],
                         check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads(out)


@pytest.fixture(scope="session")
def lab(inventory):
    """The lab deployed (at 2026.1 the first time). ESCALATOR_LAB_AS_IS=1 takes the running
    lab as it is, to run one file again against a lab a test left half upgraded."""
    if os.environ.get("ESCALATOR_LAB_AS_IS") != "1":
        subprocess.run([str(ROOT / "lab" / "labctl"), "up", "openstack"], check=True, cwd=ROOT)
        result = deploy()
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    hv = dict(next(iter(inventory["_meta"]["hostvars"].values())))
    # ansible-inventory does not template: the URL the playbooks build from the VIP.
    hv["lab_keystone_url"] = f"http://{hv['lab_vip']}:{hv['lab_keystone_port']}/v3"
    return hv


def body_of(response):
    return response[2]


def call(url, token=None, body=None, headers=None):
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body else None,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    if token:
        request.add_header("X-Auth-Token", token)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.headers, json.loads(response.read() or b"null")


@pytest.fixture(scope="session")
def token(lab):
    hv = lab
    auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": hv["lab_keystone_admin_password"]}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}
    status, headers = call(f"{hv['lab_keystone_url']}/auth/tokens", body=auth)[:2]
    assert status == 201
    return headers["X-Subject-Token"]


def instances_now(hv):
    env = dict(os.environ, OS_AUTH_URL=hv["lab_keystone_url"], OS_USERNAME="admin",
               OS_PASSWORD=hv["lab_keystone_admin_password"])
    out = subprocess.run([sys.executable, str(ROOT / "lab" / "openstack_workload.py"), "show"],
                         check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out)["instances"]


def workload(hv):
    """The lab's instances, without the probe's own (booted and deleted as it runs)."""
    return [i for i in instances_now(hv) if not i["name"].startswith("probe-")]
