"""The lab is a real cloud: real units, real listeners, one set of keys, a real LB."""

import hashlib
import pathlib

import pytest

from conftest import haproxy_states

CACHE = pathlib.Path("/var/cache/escalator")


def test_every_host_runs_systemd(lab_hosts):
    for name, host in lab_hosts.items():
        state = host.run("systemctl is-system-running").stdout.strip()
        assert state in ("running", "degraded"), f"{name}: {state}"
        assert host.process.get(pid=1).comm == "systemd", name


def test_controllers_run_keystone_28_from_the_wheelhouse(lab_hosts, group, address):
    for name in group("controllers"):
        host = lab_hosts[name]
        unit = host.service("keystone")
        assert unit.is_running and unit.is_enabled, name
        assert host.file("/opt/keystone/current").linked_to == "/opt/keystone/28.1.0"
        version = host.check_output("/opt/keystone/current/bin/python -c "
                                    "'import importlib.metadata as m; print(m.version(\"keystone\"))'")
        assert version == "28.1.0", name
        assert host.socket(f"tcp://{address(name)}:5000").is_listening, name
        # Host network: listening on a wildcard address would collide with the other hosts.
        assert not host.socket("tcp://0.0.0.0:5000").is_listening, name


def test_controllers_share_one_set_of_keys(lab_hosts, group):
    digests = {}
    for name in group("controllers"):
        out = lab_hosts[name].check_output(
            "cd /etc/keystone && find fernet-keys credential-keys -type f | sort | xargs sha256sum")
        digests[name] = out
    assert len(set(digests.values())) == 1, digests
    assert "fernet-keys/0" in next(iter(digests.values()))


def test_database_listens_on_its_own_address_only(lab_hosts, group, address):
    (db,) = group("db")
    host = lab_hosts[db]
    assert host.socket(f"tcp://{address(db)}:5432").is_listening
    assert not host.socket("tcp://127.0.0.1:5432").is_listening
    tables = host.check_output("sudo -u postgres psql -tAc \"select count(*) from pg_tables where schemaname='public'\" keystone")
    assert int(tables) > 30  # Keystone's schema is there


def test_haproxy_has_every_controller_up(lab_hosts, group):
    (lb,) = group("lb")
    assert haproxy_states(lab_hosts[lb]) == {name: 2 for name in group("controllers")}


@pytest.mark.parametrize("version", ["28.1.0", "29.1.0"])
def test_wheelhouses_match_their_manifest(version):
    wheelhouse = CACHE / "artifacts" / f"keystone-{version}"
    lines = (wheelhouse / "SHA256SUMS").read_text().splitlines()
    assert any(f"keystone-{version}-" in line for line in lines)
    for line in lines:
        digest, name = line.split(maxsplit=1)
        assert hashlib.sha256((wheelhouse / name).read_bytes()).hexdigest() == digest, name
