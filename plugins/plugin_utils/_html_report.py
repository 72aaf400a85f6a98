# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""A run's report as one self-contained HTML page: the plan, a timeline of every node,
the availability seen by a traffic probe, versions before and after, and the audit
events. Plots are drawn by matplotlib as inline SVG; the page needs no network and runs
no script. Private to the opnfv.escalator collection."""

from __future__ import annotations

import datetime
import html
import io
import json

try:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot
except ImportError:  # the page is still written, without its charts, and says why
    pyplot = None

MATPLOTLIB_MISSING = "the charts need matplotlib on the controller (pip install matplotlib; requirements.txt pins it)"
# What the timeline draws, and how.
SPANS = (("out of service", "#f2c14e"), ("upgrade", "#3f7cac"), ("verify", "#5aa469"), ("restore", "#d1495b"))
CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1200px}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.85em} td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}
th{background:#f4f4f4} .bad{color:#b00020;font-weight:bold} .ok{color:#1b7f3b;font-weight:bold}
pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:.8em} figure{margin:0}
"""


def _t(stamp):
    return datetime.datetime.fromisoformat(stamp).timestamp()


def spans(audit):
    """Per node (component@host): the (what, start, end) spans the audit log shows, and
    the times it failed."""
    out, failures, opened = {}, {}, {}
    for event in audit:
        if not event.get("component") or not event.get("object"):
            continue
        name = f"{event['component']}@{event['object']}"
        when = _t(event["time"])
        action, result = event.get("action"), event.get("result")
        node = out.setdefault(name, [])
        if action == "drain" and result == "started":
            opened[(name, "out of service")] = when
        if action in ("upgrade", "verify", "restore") and result == "started":
            opened[(name, action)] = when
        if action in ("upgrade", "verify", "restore") and result in ("ok", "failed"):
            start = opened.pop((name, action), None)
            if start is not None:
                node.append((action, start, when))
        if result == "failed":
            failures.setdefault(name, []).append(when)
        if action == "undrain" and result == "ok" or action == "node":
            start = opened.pop((name, "out of service"), None)
            if start is not None:
                node.append(("out of service", start, when))
    return {k: v for k, v in out.items() if v or k in failures}, failures


def _svg(figure):
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    pyplot.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def timeline_svg(node_spans, failures, t0):
    rows = sorted(node_spans, key=lambda k: min([s for _w, s, _e in node_spans[k]] or failures.get(k, [0])))
    figure, axes = pyplot.subplots(figsize=(11, 0.9 + 0.32 * max(1, len(rows))))
    colors = dict(SPANS)
    for y, name in enumerate(rows):
        for what, start, end in node_spans[name]:
            # The window out of service is wide and behind; what happened in it, narrow, in front.
            behind = what == "out of service"
            height = 0.8 if behind else 0.4
            axes.broken_barh([(start - t0, max(end - start, 0.2))], (y - height / 2, height), color=colors[what],
                             label=what, zorder=1 if behind else 2)
        for when in failures.get(name, []):
            axes.plot([when - t0], [y], marker="x", color="#b00020", markersize=9, label="failed", zorder=3)
    handles = {}
    for handle, label in zip(*axes.get_legend_handles_labels()):
        handles.setdefault(label, handle)
    if handles:
        axes.legend(handles.values(), handles.keys(), loc="upper center", bbox_to_anchor=(0.5, -0.12 - 1.5 / (len(rows) + 4)),
                    ncol=len(handles), frameon=False)
    axes.set_yticks(range(len(rows)), rows, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("seconds since the run started")
    axes.grid(axis="x", alpha=0.3)
    axes.set_title("Timeline: each node out of service, upgraded, verified, restored")
    return _svg(figure)


def availability_svg(records, t0, t1):
    """Requests per second and failures per second over the run."""
    start = min([t0] + [r["at"] for r in records])
    end = max([t1] + [r["at"] for r in records])
    width = max(1, int(end - start) + 1)
    total, failed = [0] * width, [0] * width
    for record in records:
        k = min(width - 1, int(record["at"] - start))
        total[k] += 1
        failed[k] += 0 if record.get("ok", True) else 1
    xs = [start - t0 + k for k in range(width)]
    figure, axes = pyplot.subplots(figsize=(11, 3))
    axes.plot(xs, total, color="#3f7cac", linewidth=1, label="requests per second")
    axes.fill_between(xs, failed, color="#b00020", step="mid", label="failed per second")
    axes.axvspan(0, t1 - t0, color="#999999", alpha=0.08, label="the run")
    axes.set_xlabel("seconds since the run started")
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    axes.set_title(f"Availability: {sum(total)} requests, {sum(failed)} failed")
    return _svg(figure)


def _table(headers, rows):
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render(plan, report, audit, records=None, plan_text=""):
    """The page, as a string. report may be {} (a run that left none); records (dicts
    with at and ok) may be empty."""
    e = html.escape
    times = [_t(a["time"]) for a in audit]
    t0 = min(times) if times else 0.0
    t1 = max(times) if times else t0
    stopped = report.get("stopped")
    nodes = report.get("nodes") or {}
    verdict = (f'<span class="bad">stopped [{e(str(report.get("code") or ""))}]: {e(stopped)}</span>' if stopped
               else '<span class="ok">done</span>' if report else '<span class="bad">no report (killed?)</span>')
    parts = [f"<h1>Escalator run {e(str(plan.get('run_id')))} of {e(str((plan.get('campaign') or {}).get('name')))}</h1>",
             f"<p>{verdict}{'' if (stopped or '').endswith('.') else '.'} Started by {e(str(report.get('user') or '?'))}; "
             f"{e(str(report.get('seconds') or round(t1 - t0, 1)))} s; {len(nodes)} nodes.</p>"]
    if report.get("resumes"):
        parts.append(f"<p>Resumes run {e(str(report['resumes']))}, which was interrupted.</p>")
    if report.get("next"):
        parts.append(f"<p>Next: {e(report['next'])}</p>")
    parts.append("<h2>Plan</h2>" + f"<pre>{e(plan_text)}</pre>")
    node_spans, failures = spans(audit)
    parts.append("<h2>Timeline</h2>")
    if pyplot is None:
        parts.append(f"<p>{e(MATPLOTLIB_MISSING)}</p>")
    elif node_spans:
        parts.append(f'<figure id="timeline">{timeline_svg(node_spans, failures, t0)}</figure>')
    else:
        parts.append("<p>No node was touched.</p>")
    parts.append("<h2>Availability</h2>")
    if not records:
        parts.append("<p>No traffic probe ran with this run.</p>")
    elif pyplot is None:
        parts.append(f"<p>{e(MATPLOTLIB_MISSING)}</p>")
    else:
        parts.append(f'<figure id="availability">{availability_svg(records, t0, t1)}</figure>')
    parts.append("<h2>Versions</h2>" + _table(
        ("node", "before", "after", "result", "code", "seconds"),
        [(e(k), e(str(v.get("from_version") or "-")), e(str(v.get("version") or "-")),
          f'<span class="{"ok" if v.get("result") in ("upgraded", "already done") else "bad"}">{e(str(v.get("result")))}</span>',
          e(str(v.get("code") or "")), e(str(v.get("seconds") or ""))) for k, v in nodes.items()]))
    retried = [(k, check) for k, v in nodes.items() for check in v.get("verify_retried") or []]
    if retried:
        parts.append("<h2>Checks that passed only after failing</h2>" + _table(
            ("node", "check", "tries", "what the first failed try saw"),
            [(e(k), e(str(c.get("name"))), e(str(c.get("attempts"))), e(str(c.get("failed_first")))) for k, c in retried]))
    parts.append("<h2>Audit events</h2>" + _table(
        ("time (UTC)", "component", "object", "action", "result", "duration (s)", "code", "message"),
        [(e(a["time"][11:23]), e(str(a.get("component") or "")), e(str(a.get("object") or "")), e(str(a["action"])),
          e(str(a.get("result"))), e(str(a.get("duration_s") if a.get("duration_s") is not None else "")),
          e(str(a.get("code") or "")), e(str(a.get("message") or ""))[:300]) for a in audit]))
    title = e(f"Escalator run {plan.get('run_id')}")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
            f"<style>{CSS}</style></head><body>{''.join(parts)}</body></html>\n")


def read_jsonl(path):
    out = []
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if line:
                try:
                    out.append(json.loads(line))
                except ValueError:
                    continue
    return out
