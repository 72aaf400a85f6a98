"""plan.yml and upgrade.yml driven through ansible-runner, as AWX runs them: progress read
from the events as they come, the run's report and the artifacts directory afterwards."""

import json
import pathlib

import ansible_runner

import cloud

ROOT = pathlib.Path(__file__).resolve().parents[3]


def runner(tmp_path, root, playbook, state, events):
    """One ansible_runner.run() of a playbook of this checkout against the cloud at root."""
    def on_event(event):
        data = event.get("event_data", {})
        events.append((event.get("event"), data.get("host"), data.get("task"), data.get("play")))
        return True  # keep the event in the artifacts too

    (tmp_path / "runner").mkdir(exist_ok=True)
    return ansible_runner.run(
        private_data_dir=str(tmp_path / "runner"), playbook=str(ROOT / "playbooks" / playbook),
        inventory=str(root / "hosts.yml"), extravars={"escalator_state_dir": str(state)},
        envvars={"ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1"},
        event_handler=on_event, quiet=True)


def test_plan_and_upgrade_through_ansible_runner(tmp_path):
    root = cloud.build(tmp_path / "site", names=("keystone",))
    state = tmp_path / "state"
    events = []
    planned = runner(tmp_path, root, "plan.yml", state, events)
    assert planned.status == "successful" and planned.rc == 0, planned.stdout.read()[-3000:]
    assert json.loads((state / "plan.json").read_text())["batches"]

    events.clear()
    run = runner(tmp_path, root, "upgrade.yml", state, events)
    assert run.status == "successful" and run.rc == 0, run.stdout.read()[-3000:]
    # Progress, as a job's event stream shows it: the plays in order, each pair's steps.
    plays = [play for kind, _h, _t, play in events if kind == "playbook_on_play_start"]
    batches = json.loads((state / "plan.json").read_text())["batches"]
    assert plays.count("Upgrade, batch by batch") == len(batches)  # a play start per serial batch
    assert list(dict.fromkeys(plays)) == [
        "Plan the run", "Preflight checks on every target", "Take the run lock",
        "Stage the new versions beside the old ones", "Upgrade, batch by batch",
        "Roll back what the run upgraded (on_failure rollback_all)", "Report"]
    done = [host for kind, host, task, _p in events if kind == "runner_on_ok" and task == "Record the result"]
    assert sorted(done) == sorted(f"keystone@{h}" for h in cloud.targets(("keystone",))["keystone"])
    # Afterwards: the report in the state directory, the events in the artifacts directory.
    (report,) = (state / "runs").glob("*.report.json")
    assert {n["result"] for n in json.loads(report.read_text())["nodes"].values()} == {"upgraded"}
    artifacts = pathlib.Path(run.config.artifact_dir)
    assert (artifacts / "rc").read_text() == "0" and (artifacts / "status").read_text() == "successful"
    saved = [json.loads(p.read_text())["event"] for p in (artifacts / "job_events").glob("*.json")]
    assert saved.count("playbook_on_play_start") == len(plays)
    assert {v.read_text().strip() for v in (root / "hosts").glob("*/keystone.version")} == {"2.0"}
