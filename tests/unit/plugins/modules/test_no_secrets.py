"""Secrets that reach modules (an http check's token request, a dump command's
PGPASSWORD) never appear in Ansible's output, at any verbosity (-vvvv here)."""

import http.server
import os
import pathlib
import subprocess
import sys
import threading

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[4]
PASSWORD = "s3cret-password-never-shown"
TOKEN = "token-value-never-shown"


class Keystoneish(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        return

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(201)
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_check_bodies_headers_and_dump_commands_are_never_printed(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Keystoneish)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.conf").write_text("a = 1\n")
    tasks = [
        {"opnfv.escalator.health_check": {"checks": [
            {"name": "tokens", "type": "http", "url": f"http://127.0.0.1:{server.server_address[1]}/v3/auth/tokens",
             "method": "POST", "status": [201], "headers": {"X-Auth-Token": TOKEN},
             "body": '{"auth": {"password": "' + PASSWORD + '"}}'}]}},
        {"opnfv.escalator.health_check": {"checks": [
            {"name": "refused", "type": "http", "url": f"http://127.0.0.1:{server.server_address[1]}/",
             "method": "POST", "status": [200], "body": '{"password": "' + PASSWORD + '"}'}]},
         "ignore_errors": True},
        {"opnfv.escalator.snapshot": {"name": "s1", "root": str(tmp_path / "snaps"), "paths": [str(tmp_path / "data")],
                                      "commands": [{"name": "db", "dump": f"PGPASSWORD={PASSWORD} echo dumped",
                                                    "restore": f"PGPASSWORD={PASSWORD} cat >/dev/null"}]}},
        {"opnfv.escalator.snapshot": {"name": "s2", "root": str(tmp_path / "snaps"),
                                      "commands": [{"name": "db", "dump": f"PGPASSWORD={PASSWORD} exit 3",
                                                    "restore": "cat"}]},
         "ignore_errors": True},
    ]
    book = tmp_path / "play.yml"
    book.write_text(yaml.safe_dump([{"hosts": "localhost", "gather_facts": False, "tasks": tasks}]))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1",
               PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    try:
        proc = subprocess.run(["ansible-playbook", "-vvvv", "-i", "localhost,", "-c", "local", "-e",
                               f"ansible_python_interpreter={sys.executable}", str(book)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    finally:
        server.shutdown()
        server.server_close()
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "ok=4" in out and "ignored=2" in out  # each check and dump ran, two failed on purpose
    assert PASSWORD not in out and TOKEN not in out
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in out
