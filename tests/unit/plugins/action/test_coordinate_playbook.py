"""coordinate in real playbooks on localhost against the lab's VNF manager (lab/vnfm.py) run
as a process: the Fenix exchange signed both ways, the active member moved before the ACK,
and each way a manager can fail the exchange (NACK, silence, a bad signature, a replayed,
misdirected or foreign reply) ending in the policy's decision, never in a traceback."""

import base64
import json
import pathlib
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from test_notifications_playbook import play  # the same runner: a playbook on localhost, its JSON result

ROOT = pathlib.Path(__file__).resolve().parents[4]
SECRET = "whsec_" + base64.b64encode(bytes(range(7, 39))).decode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def certificate(tmp_path):
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    # pylint: disable=import-outside-toplevel
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "escalator-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         serialization.NoEncryption()))
    return tmp_path / "cert.pem", tmp_path / "key.pem"


class Vnfm:
    def __init__(self, tmp_path, members, active, ca_file=None):
        self.dir = tmp_path / "vnfm"
        self.dir.mkdir()
        (self.dir / "secret").write_text(SECRET)
        (self.dir / "state.json").write_text(json.dumps({"members": members, "active": active}))
        self.port = free_port()
        self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [sys.executable, str(ROOT / "lab" / "vnfm.py"), "--port", str(self.port), "--secret-file",
             str(self.dir / "secret"), "--state-file", str(self.dir / "state.json"), "--mode-file",
             str(self.dir / "mode"), "--log", str(self.dir / "log.jsonl"),
             *(["--ca-file", str(ca_file)] if ca_file else [])], stdout=subprocess.DEVNULL)
        for dummy in range(50):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)

    def mode(self, mode):
        (self.dir / "mode").write_text(mode)

    def log(self):
        path = self.dir / "log.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def active(self):
        return json.loads((self.dir / "state.json").read_text())["active"]

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/maintenance"


@pytest.fixture
def vnfm(tmp_path):
    made = Vnfm(tmp_path, ["i-a", "i-b", "i-c"], "i-a")
    yield made
    made.proc.terminate()
    made.proc.wait(10)


def exchange(tmp_path, vnfm, state, policy="fail", timeout=8, project="vnf", instances=("i-a",), **extra):
    args = {"session_id": "s-1", "state": state, "host": "cmp1", "port": extra.pop("port", free_port()),
            "reply_timeout": timeout, "policy": policy, "replay_file": str(tmp_path / "seen"),
            "projects": [{"project_id": project, "url": vnfm.url, "secret": SECRET, "instances": list(instances)}]}
    args.update(extra)
    rc, tasks = play(tmp_path, [{"opnfv.escalator.coordinate": args, "register": "out"}], "-vvvv")
    return rc, tasks[0]


def test_the_exchange_of_a_host_maintenance_in_order_with_the_active_member_moved_first(tmp_path, vnfm):
    for state in ("MAINTENANCE", "PLANNED_MAINTENANCE"):
        rc, out = exchange(tmp_path, vnfm, state)
        assert rc == 0, out
        assert out["decision"] == "go", out
        row = out["exchanges"][0]
        assert row["reply"] == f"ACK_{state}" and row["delivered"] and row["listed"] == 1
        assert 0 < row["latency_s"] < 8
    assert row["instance_actions"] == {"i-a": "LIVE_MIGRATE"}
    for state, extra in (("INSTANCE_ACTION_DONE", {}), ("IN_MAINTENANCE", {"event": "host"}),
                         ("MAINTENANCE_COMPLETE", {"event": "host"}), ("MAINTENANCE_COMPLETE", {})):
        rc, out = exchange(tmp_path, vnfm, state, **extra)
        assert rc == 0 and out["decision"] == "go", out
    time.sleep(0.5)
    log = vnfm.log()
    got = [r["state"] for r in log if r["kind"] in ("notification", "host")]
    assert got == ["MAINTENANCE", "PLANNED_MAINTENANCE", "INSTANCE_ACTION_DONE", "IN_MAINTENANCE",
                   "MAINTENANCE_COMPLETE", "MAINTENANCE_COMPLETE"]
    assert [r["reply"] for r in log if r["kind"] == "reply"] == [
        "ACK_MAINTENANCE", "ACK_PLANNED_MAINTENANCE", "ACK_MAINTENANCE_COMPLETE"]
    # The active role left i-a (on the host) before the ACK of PLANNED_MAINTENANCE went out.
    switched = next(i for i, r in enumerate(log) if r["kind"] == "switched")
    acked = next(i for i, r in enumerate(log) if r.get("reply") == "ACK_PLANNED_MAINTENANCE")
    assert switched < acked and vnfm.active() == "i-b"
    assert next(r for r in log if r["kind"] == "host")["active"] == "i-b"


@pytest.mark.parametrize("policy", ["fail", "pause", "skip_host"])
def test_a_nack_gives_the_policy(tmp_path, vnfm, policy):
    vnfm.mode("nack")
    rc, out = exchange(tmp_path, vnfm, "PLANNED_MAINTENANCE", policy=policy)
    assert rc == 0
    assert out["decision"] == policy and out["nacked"] == ["vnf"]
    assert out["exchanges"][0]["reply"] == "NACK_PLANNED_MAINTENANCE"
    assert "vnf answered NACK_PLANNED_MAINTENANCE" in out["msg"]


@pytest.mark.parametrize("mode, reason", [
    ("silent", None),
    ("bad_signature", "bad signature"),
    ("wrong_session", "wrong session"),
    ("wrong_project", "unknown project: 'not-vnf'"),
])
def test_no_acceptable_reply_times_out_into_the_policy(tmp_path, vnfm, mode, reason):
    vnfm.mode(mode)
    started = time.monotonic()
    rc, out = exchange(tmp_path, vnfm, "MAINTENANCE", policy="skip_host", timeout=3)
    assert rc == 0
    assert out["decision"] == "skip_host" and out["timed_out"] == ["vnf"], out
    assert out["exchanges"][0]["reply"] is None
    assert "vnf did not answer within 3 s" in out["msg"]
    assert time.monotonic() - started < 30
    if reason:
        assert any(reason in r["reason"] for r in out["rejected"]), out["rejected"]
    else:
        assert out["rejected"] == []
    assert SECRET not in json.dumps(out)


def test_a_reply_replayed_from_an_earlier_exchange_is_refused(tmp_path, vnfm):
    port = free_port()  # one reply URL for the session, as in a run
    rc, out = exchange(tmp_path, vnfm, "MAINTENANCE", port=port)
    assert out["decision"] == "go"
    vnfm.mode("replay")  # sends its ACK_MAINTENANCE again, byte for byte
    rc, out = exchange(tmp_path, vnfm, "PLANNED_MAINTENANCE", timeout=3, port=port)
    assert rc == 0 and out["decision"] == "fail", out
    assert any(r["reason"].startswith("replayed") and r["status"] == 409 for r in out["rejected"]), out["rejected"]


def test_an_unreachable_manager_and_bad_settings(tmp_path, vnfm):
    vnfm.proc.terminate()
    vnfm.proc.wait(10)
    rc, out = exchange(tmp_path, vnfm, "MAINTENANCE", timeout=2)
    assert rc == 0 and out["decision"] == "fail"
    assert out["exchanges"][0]["delivered"] is False and "was not delivered" in out["msg"]
    rc, out = exchange(tmp_path, vnfm, "MAINTENANCE", port=70000)
    assert rc != 0 and out["msg"] == "port: 70000 is not a TCP port (1 to 65535)"
    bad = {"project_id": "vnf", "url": "ftp://x", "secret": SECRET}
    rc, out = exchange(tmp_path, vnfm, "MAINTENANCE", projects=[bad])
    assert rc != 0 and out["msg"].startswith("projects[0].url: an http:// or https:// URL")
    rc, out = exchange(tmp_path, vnfm, "MAINTENANCE", projects=[dict(bad, url=vnfm.url, secret="short")])
    assert rc != 0 and out["msg"].startswith("projects[0].secret: not base64") or "bytes once decoded" in out["msg"]
    assert "short" not in json.dumps(out)
    rc, out = exchange(tmp_path, vnfm, "IN_MAINTENANCE", host=None, event="host")
    assert rc != 0 and out["msg"] == "host: required with event host (IN_MAINTENANCE of a host)"
    rc, out = exchange(tmp_path, vnfm, "IN_MAINTENANCE")
    assert rc != 0 and out["msg"].startswith("state: IN_MAINTENANCE is not a project state")


def test_the_reply_url_over_https(tmp_path):
    cert, key = certificate(tmp_path)
    manager = Vnfm(tmp_path, ["i-a", "i-b"], "i-a", ca_file=cert)
    try:
        rc, out = exchange(tmp_path, manager, "PLANNED_MAINTENANCE", tls_certfile=str(cert), tls_keyfile=str(key))
        assert rc == 0 and out["decision"] == "go", out
        assert out["url"].startswith("https://127.0.0.1:")
        assert out["exchanges"][0]["reply"] == "ACK_PLANNED_MAINTENANCE" and out["exchanges"][0]["listed"] == 1
        rc, out = exchange(tmp_path, manager, "MAINTENANCE", tls_certfile=str(cert), tls_keyfile=str(tmp_path / "no.pem"))
        assert rc != 0 and out["msg"].startswith("tls_certfile, tls_keyfile: cannot be loaded")
    finally:
        manager.proc.terminate()
        manager.proc.wait(10)
