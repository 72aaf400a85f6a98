# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import annotations

DOCUMENTATION = r"""
name: status
type: notification
short_description: The live status of an upgrade run - a table on a terminal, lines elsewhere, and a status file
version_added: 0.2.0
description:
  - Follows a run of C(upgrade.yml) or C(rollback.yml) as it goes, from what the run itself
    records, and shows per component its batches done and total and the batch under way;
    per node (each component and host pair) the step it is at - guard, drain, snapshot,
    upgrade, verify, undrain, restore - and its result; the elapsed time, and an ETA from
    the plan's expected durations corrected by what the finished batches really took.
  - On a terminal it redraws a table; when stdout is not a terminal (CI, AWX, a pipe) it
    prints one plain line per change instead.
  - After every change (except in check mode, which writes nothing) it writes the same
    state, atomically, to
    C(<state>/runs/<run_id>.status.json), beside the run's plan and report, for scripts and
    for C(playbooks/status.yml).
  - It also keeps the run's audit log, C(<state>/runs/<run_id>.audit.jsonl) - one JSON
    object a line for every event (the plan, each phase, each step of each node started
    and ended with its duration, each node's result, the run stopping or ending) - with
    its time (UTC), run id, campaign, component, object (host, batch or campaign),
    action, result, duration, error code, message, and who started the run (the
    run's own record of it - the Keystone user with C(escalator_auth=keystone), else the
    AWX user, C(ESCALATOR_USER) or the login user).
  - Enable it beside the stdout callback (its lines among Ansible's own), or make it the
    stdout callback to see only the status, the tasks that failed and the run's report.
requirements:
  - Enabled in C(callbacks_enabled) (as this collection's C(ansible.cfg) does), or set as
    C(stdout_callback).
options:
  output:
    description:
      - V(auto) redraws the table when this is the stdout callback and stdout is a
        terminal, and prints lines otherwise (a redrawn table would draw over the lines of
        another stdout callback); V(table) and V(lines) choose; V(none) only writes the
        status file.
    type: str
    default: auto
    choices: [auto, table, lines, none]
    env:
      - name: ESCALATOR_STATUS_OUTPUT
    ini:
      - section: escalator_status
        key: output
  status_dir:
    description:
      - Where the status file is written. By default the run's own C(<state>/runs).
    type: path
    env:
      - name: ESCALATOR_STATUS_DIR
    ini:
      - section: escalator_status
        key: status_dir
"""

import datetime
import getpass
import json
import os
import socket
import sys
import tempfile
import time

from ansible import constants as C
from ansible import context
from ansible.plugins.callback import CallbackBase

STEPS = ("guard", "drain", "snapshot", "upgrade", "verify", "undrain", "restore", "done")
PHASES = {
    "Plan the run": "plan", "Preflight checks on every target": "preflight", "Take the run lock": "lock",
    "Stage the new versions beside the old ones": "stage", "Upgrade, batch by batch": "upgrade",
    "Roll back what the run upgraded (on_failure rollback_all)": "rollback",
    "Find the run, its plan and its campaign": "plan", "Roll back, one pair at a time": "rollback",
    "Report": "report", "Report and release the lock": "report",
}


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _clock(seconds):
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class RunStatus:
    """What the run has done so far, from the facts its tasks set. Pure: the callback
    feeds it and shows it; the tests feed it too."""

    def __init__(self, now):
        self.started = now
        self.run_id = None
        self.campaign = None
        self.kind = "upgrade"
        self.phase = "plan"
        self.state_dir = None
        self.plan = None
        self.nodes = {}
        self.stop = None
        self.code = None
        self.finished = None
        self.batch_started = {}
        self.batch_done = {}
        # Audit events not yet written: the callback takes them.
        self.events = []
        self.user = None

    def event(self, now, action, result, obj=None, component=None, duration=None, code=None, message=None):
        """One audit event (see docs/operations.md)."""
        self.events.append({
            "time": datetime.datetime.fromtimestamp(now, datetime.timezone.utc).isoformat(timespec="milliseconds"),
            "run_id": self.run_id, "campaign": self.campaign, "kind": self.kind, "component": component,
            "object": obj, "action": action, "result": result,
            "duration_s": None if duration is None else round(duration, 1), "code": code,
            "message": None if message is None else " ".join(str(message).split())[:2000], "user": self.user})

    # What the run records.
    def on_play(self, name, now=None):
        phase = PHASES.get(name)
        if name.startswith(("Find the run", "Roll back, one pair")):
            self.kind = "rollback"
        # A play with serial batches starts once per batch: one phase for all of them.
        if phase and phase != self.phase:
            self.phase = phase
            if self.run_id and now is not None:
                self.event(now, phase, "started", obj=self.campaign)
            return True
        return False

    def on_facts(self, host, facts, now):
        """Update from a task's facts; True when something an operator sees changed."""
        changed = False
        if isinstance(facts.get("escalator_user"), str) and facts["escalator_user"].strip():
            self.user = " ".join(facts["escalator_user"].split())
        if isinstance(facts.get("escalator_state"), dict):
            self.state_dir = facts["escalator_state"].get("dir") or self.state_dir
        plan = facts.get("escalator_plan")
        if isinstance(plan, dict) and plan.get("run_id") and plan.get("run_id") != self.run_id:
            self._on_plan(plan)
            self.event(now, "plan", "ok", obj=self.campaign,
                       message=f"{len(self.nodes)} nodes in {len(plan.get('batches') or [])} batches")
            changed = True
        step = facts.get("__runbook_step")
        if isinstance(step, str) and host in self.nodes and step != "done":
            changed |= self._step(host, step, now)
        exchange = facts.get("__runbook_exchange")
        if isinstance(exchange, dict) and host in self.nodes:
            self._exchange(self.nodes[host], exchange, now)
        if facts.get("__runbook_failed_step") and host in self.nodes:
            entry = self.nodes[host]
            failed = str(facts["__runbook_failed_step"])
            self.event(now, failed, "failed", obj=entry["host"], component=entry["component"],
                       duration=now - entry["since"] if entry["since"] else None, message=facts.get("__runbook_error"))
            entry["step"] = None  # the failed step is closed
            outcome = str(facts.get("__runbook_outcome", ""))
            if "restored" in outcome:
                changed |= self._step(host, "restore", now)
        node = facts.get("runbook_node")
        if isinstance(node, dict) and node.get("component") and node.get("host"):
            name = f"{node['component']}@{node['host']}"
            if name in self.nodes and self.nodes[name]["result"] != node.get("result"):
                entry = self.nodes[name]
                self._close(entry, now)
                entry.update(result=node.get("result"), seconds=node.get("seconds"), step="done", code=node.get("code"))
                self.event(now, "node", node.get("result"), obj=entry["host"], component=entry["component"],
                           duration=_number(node.get("seconds")), code=node.get("code"), message=node.get("error"))
                changed = True
                self._batch_check(entry["batch"], now)
        # The report role gathers the run's results: the run has ended (its report, page and
        # the copy kept on the state host are written after this, with this event in them).
        report = facts.get("__report")
        if isinstance(report, dict) and self.finished is None and self.run_id:
            # A stop only the report knows of (a rollback that could not roll back a pair).
            if self.stop is None and report.get("code") and report.get("stopped"):
                self.stop, self.code = " ".join(str(report["stopped"]).split()), report["code"]
            self.on_end(now)
            changed = True
        stop = facts.get("runbook_stop")
        if isinstance(stop, dict) and stop.get("reason") and self.stop is None:
            self.stop = " ".join(str(stop["reason"]).split())
            self.code = stop.get("code")
            self.event(now, "run", "stopped", obj=self.campaign, component=stop.get("component"), code=self.code,
                       message=self.stop)
            changed = True
        return changed

    def _exchange(self, entry, exchange, now):
        """One audit event per project of an exchange with the managers (coordinate)."""
        state = str(exchange.get("state"))
        for row in exchange.get("exchanges") or []:
            if not isinstance(row, dict):
                continue
            if row.get("reply"):
                result = str(row["reply"])
            elif "reply" in row:
                result = "no answer" if row.get("delivered") else "not delivered"
            else:
                result = "sent" if row.get("delivered") else "not delivered"
            message = f"{state} to {row.get('project_id')}"
            if row.get("delivery_error") and not row.get("delivered"):
                message += f": {row['delivery_error']}"
            self.event(now, "coordinate", result, obj=entry["host"], component=entry["component"],
                       duration=_number(row.get("latency_s")), message=message)
        if exchange.get("rejected"):
            self.event(now, "coordinate", "rejected", obj=entry["host"], component=entry["component"],
                       message=f"{exchange['rejected']} request(s) refused while waiting for {state} answers")

    def on_end(self, now):
        self.finished = now
        self.phase = "done"
        for entry in self.nodes.values():
            if entry["result"] is None:
                entry.update(result="not reached", step=None)
        self.event(now, "run", "stopped" if self.stop else "done", obj=self.campaign, duration=now - self.started,
                   code=self.code, message=self.stop)

    def _on_plan(self, plan):
        self.plan = plan
        self.run_id = plan["run_id"]
        self.campaign = (plan.get("campaign") or {}).get("name")
        hosts = plan.get("rollback_hosts") if self.kind == "rollback" else plan.get("run_hosts")
        for entry in hosts or []:
            if entry.get("host"):
                self.nodes.setdefault(entry["name"], {
                    "component": entry["component"], "host": entry["host"], "batch": entry.get("batch", 0),
                    "step": None, "result": None, "seconds": None, "since": None, "code": None})

    def _step(self, name, step, now):
        entry = self.nodes[name]
        if entry["step"] == step:
            return False
        self._close(entry, now)
        entry.update(step=step, since=now)
        self.event(now, step, "started", obj=entry["host"], component=entry["component"])
        self.batch_started.setdefault(entry["batch"], now)
        return True

    def _close(self, entry, now):
        """The step under way ended well (the next began, or the node's result came)."""
        if entry["step"] and entry["step"] != "done":
            self.event(now, entry["step"], "ok", obj=entry["host"], component=entry["component"],
                       duration=now - entry["since"] if entry["since"] else None)

    def _batch_check(self, batch, now):
        pairs = [n for n in self.nodes.values() if n["batch"] == batch]
        if pairs and all(n["result"] for n in pairs) and batch not in self.batch_done:
            self.batch_done[batch] = now

    # What an operator sees.
    def _batches(self):
        return (self.plan or {}).get("batches") or []

    def _expected(self, batch):
        comp = next((c for c in (self.plan or {}).get("components", []) if c["name"] == batch["component"]), {})
        return float(comp.get("expected_duration_s") or 0)

    def components(self):
        """Per component and site (one row per component when the campaign has no sites)."""
        out = []
        for comp in (self.plan or {}).get("components", []):
            ours = [b for b in self._batches() if b["component"] == comp["name"]]
            for site in dict.fromkeys(b.get("site") for b in ours) or [None]:
                mine = [b for b in ours if b.get("site") == site]
                done = [b for b in mine if b["index"] in self.batch_done]
                current = next((b for b in mine if b["index"] in self.batch_started
                                and b["index"] not in self.batch_done), None)
                out.append({"component": comp["name"], "site": site, "version": comp.get("version"),
                            "batches_done": len(done), "batches_total": len(mine),
                            "current_batch": (mine.index(current) + 1) if current else None})
        return out

    def eta(self, now):
        """Seconds left: the expected time of the batches not done, scaled by how the
        finished batches compared with what was expected of them."""
        batches = self._batches()
        if not batches or self.finished:
            return None
        spent = sum(self.batch_done[b["index"]] - self.batch_started.get(b["index"], self.batch_done[b["index"]])
                    for b in batches if b["index"] in self.batch_done)
        expected_done = sum(self._expected(b) for b in batches if b["index"] in self.batch_done)
        ratio = min(5.0, max(0.2, spent / expected_done)) if expected_done > 0 and spent > 0 else 1.0
        left = 0.0
        for b in batches:
            if b["index"] in self.batch_done:
                continue
            expected = self._expected(b) * ratio
            if b["index"] in self.batch_started:
                expected = max(0.0, expected - (now - self.batch_started[b["index"]]))
            left += expected
        return round(left, 1)

    def as_dict(self, now):
        failed = {k: v for k, v in self.nodes.items() if v["result"] and v["result"] not in (
            "upgraded", "already done", "upgraded, then rolled back", "rolled back", "nothing to roll back",
            "not reached")}
        return {
            "format": 1, "run_id": self.run_id, "campaign": self.campaign, "kind": self.kind, "phase": self.phase,
            "user": self.user,
            "running": self.finished is None, "started": round(self.started, 3),
            "updated": round(now, 3), "elapsed_s": round((self.finished or now) - self.started, 1),
            "eta_s": self.eta(now), "stopped": self.stop, "code": self.code,
            "components": self.components(),
            "nodes": {k: {f: v[f] for f in ("component", "host", "step", "result", "seconds", "code")}
                      | {"batch": v["batch"] + 1}
                      for k, v in self.nodes.items()},
            "failed": sorted(failed),
        }

    def table(self, now):
        data = self.as_dict(now)
        eta = "" if data["eta_s"] is None else f"  ETA {_clock(data['eta_s'])}"
        lines = [f"{self.kind} {self.run_id or '(planning)'} of {self.campaign or '?'}  {self.phase}  "
                 f"elapsed {_clock(data['elapsed_s'])}{eta}"]
        for comp in data["components"]:
            current = f", batch {comp['current_batch']} under way" if comp["current_batch"] else ""
            site = f" @{comp['site']}" if comp["site"] else ""
            lines.append(f"  {comp['component'] + site:<28} {comp['batches_done']}/{comp['batches_total']} batches{current}")
        busy = [(k, v) for k, v in data["nodes"].items() if v["step"] and v["step"] != "done" or v["result"]]
        for name, node in busy[-40:]:
            state = node["result"] or node["step"]
            lines.append(f"    {name:<34} batch {node['batch']:<3} {state}")
        if self.stop:
            lines.append(f"  stopped: {self.stop}")
        return "\n".join(lines)


def write_status(directory, run_id, data):
    """<directory>/<run_id>.status.json, replaced atomically."""
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{run_id}.status.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
        os.replace(tmp, os.path.join(directory, f"{run_id}.status.json"))
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def append_audit(directory, run_id, events):
    """Append events to <directory>/<run_id>.audit.jsonl, one JSON object a line."""
    if not events:
        return
    with open(os.path.join(directory, f"{run_id}.audit.jsonl"), "a", encoding="utf-8") as handle:
        # Flushed to the system at once (a killed run keeps its events); no fsync per event,
        # which would stall the disk the cloud's own databases write to.
        handle.write("".join(json.dumps(e, sort_keys=True) + "\n" for e in events))


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "opnfv.escalator.status"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, display=None, options=None):
        super().__init__(display=display, options=options)
        self.status = RunStatus(time.time())
        self.status.user = os.environ.get("ESCALATOR_USER") or f"{getpass.getuser()}@{socket.gethostname()}"
        self.output = "lines"
        self.status_dir = None
        self._drawn = 0
        self.is_stdout = False

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        self.is_stdout = str(getattr(C, "DEFAULT_STDOUT_CALLBACK", "")) in (self.CALLBACK_NAME, "status")
        output = self.get_option("output")
        if output == "auto":
            output = "table" if self.is_stdout and sys.stdout.isatty() else "lines"
        self.output = output
        self.status_dir = self.get_option("status_dir")

    # Ansible's events.
    def v2_playbook_on_play_start(self, play):
        if self.status.on_play(play.get_name().strip(), time.time()):
            self._changed(f"phase {self.status.phase}")

    def v2_runner_on_ok(self, result):
        self._facts(result)
        self._show_report(result)

    def v2_runner_item_on_ok(self, result):
        self._facts(result)

    # As the stdout callback it is the only output: what failed, and the report, are shown.
    def v2_runner_on_failed(self, result, ignore_errors=False):
        if self.is_stdout and not ignore_errors:
            self._say(f"FAILED {result._host.get_name()}: {result._task.get_name().strip()}: "
                      f"{result._result.get('msg') or result._result.get('stderr') or 'failed'}")

    def v2_runner_on_unreachable(self, result):
        if self.is_stdout:
            self._say(f"UNREACHABLE {result._host.get_name()}: {result._result.get('msg', '')}")

    def _show_report(self, result):
        msg = result._result.get("msg")
        if self.is_stdout and result._task.get_name().strip() == "Show the report" and msg:
            self._say("\n".join(msg) if isinstance(msg, list) else str(msg))

    def v2_playbook_on_stats(self, stats):
        if self.status.run_id and self.status.finished is None:
            self.status.on_end(time.time())
            self._ended()

    def _facts(self, result):
        facts = result._result.get("ansible_facts")
        if not isinstance(facts, dict):
            return
        host = result._host.get_name()
        before = {k: (v["step"], v["result"]) for k, v in self.status.nodes.items()}
        had_plan = self.status.run_id is not None
        had_ended = self.status.finished is not None
        if not self.status.on_facts(host, facts, time.time()):
            return
        if not had_ended and self.status.finished is not None:
            self._ended()
            return
        if not had_plan and self.status.run_id:
            self._changed(f"plan {self.status.run_id}: {len(self.status.nodes)} nodes")
            return
        moved = [k for k, v in self.status.nodes.items() if before.get(k) != (v["step"], v["result"])]
        self._changed("; ".join(f"{k} {self.status.nodes[k]['result'] or self.status.nodes[k]['step']}"
                                for k in moved) or None)

    def _ended(self):
        self._changed("run ended" + (f": stopped - {self.status.stop}" if self.status.stop else ""))

    # Showing and keeping it.
    def _say(self, text):
        self._display.display(text)
        self._drawn = 0  # a table is drawn anew below

    def _changed(self, line):
        now = time.time()
        # Check mode changes nothing, the state directory included: lines only.
        if self.status.run_id and not context.CLIARGS.get("check"):
            directory = self.status_dir or (os.path.join(self.status.state_dir, "runs") if self.status.state_dir else None)
            if directory:
                try:
                    write_status(directory, self.status.run_id, self.status.as_dict(now))
                    append_audit(directory, self.status.run_id, self.status.events)
                    self.status.events = []
                except OSError as exc:
                    self._display.warning(f"opnfv.escalator.status: cannot write the status file in {directory}: {exc}")
                    self.status_dir = None
        if self.output == "lines" and line:
            eta = self.status.eta(now)
            self._display.display(f"[escalator {_clock(now - self.status.started)}"
                                  f"{'' if eta is None else ' ETA ' + _clock(eta)}] {line}")
        elif self.output == "table" and self.status.run_id:
            text = self.status.table(now)
            # Move up over the last table and draw over it.
            clear = "\x1b[1A\x1b[2K" * self._drawn
            self._display.display(clear + text, screen_only=True)
            self._drawn = text.count("\n") + 1
