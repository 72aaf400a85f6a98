# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Turn a validated campaign and an inventory into an executable upgrade plan.

Private to the opnfv.escalator collection. Pure Python, no Ansible import, so the
tests and benchmarks/plan_scale.py call it directly.

A plan lists the components in dependency order; for each, its hosts in the order they
are upgraded and the batch sizes, so that a play can take them as ``hosts:`` and
``serial:``. Every batch respects the budget of every group its hosts belong to (a host
sits in a rack, a site and a service group at once); the first batch of a component is
a canary of one host; there are as few batches as the greedy packing below finds.
"""

from __future__ import annotations

import datetime
import fnmatch
import hashlib
import json
import math

from ._campaign import CampaignError, match_pattern, names_single_host

PLAN_FORMAT = 2
# The campaign's own settings the plan carries.
CAMPAIGN_KEYS = ("name", "description", "canary", "timeout_margin", "sites", "stage_parallel")
# A pair is one component on one host: the unit the upgrade play walks. Its name is the
# alias the play knows it by; the real host stays its connection target.
PAIR_SEPARATOR = "@"


def pair_name(component, host):
    return f"{component}{PAIR_SEPARATOR}{host}"


def run_hosts(components):
    """The upgrade play's host list and serial sizes: each batch's pairs, then its witness.

    The witness is a host of its own on the controller's local connection. It never
    fails, so a batch whose every pair fails or becomes unreachable does not end the
    playbook (Ansible stops a playbook when a whole serial batch fails), and once the
    batch's pairs are done it checks that none of them was lost on the way.
    """
    hosts, serial, batches = [], [], []
    for comp in components:
        sites = comp.get("batch_sites") or [None] * len(comp["batch_hosts"])  # none in older plans
        for k, members in enumerate(comp["batch_hosts"]):
            index = len(batches)
            names = [pair_name(comp["name"], h) for h in members]
            witness = f"escalator-batch-{index + 1}"
            batches.append({"index": index, "component": comp["name"], "pairs": names, "witness": witness,
                            "first": k == 0, "last": k == len(comp["batch_hosts"]) - 1,
                            "site": sites[k]})
            hosts += [{"name": n, "host": h, "component": comp["name"], "batch": index}
                      for n, h in zip(names, members)]
            hosts.append({"name": witness, "host": None, "component": comp["name"], "batch": index})
            serial.append(len(names) + 1)
    return hosts, serial, batches


def rollback_hosts(components):
    """The rollback play's host list: components last first, each one's hosts in reverse
    upgrade order, one pair a batch, each followed by its witness (serial 2)."""
    hosts = []
    for comp in reversed(components):
        for h in reversed([h for batch in comp["batch_hosts"] for h in batch]):
            index = len(hosts) // 2
            hosts.append({"name": pair_name(comp["name"], h), "host": h, "component": comp["name"], "batch": index})
            hosts.append({"name": f"escalator-rollback-{index + 1}", "host": None, "component": comp["name"],
                          "batch": index})
    return hosts


def allowed_out(size, budget):
    """How many of ``size`` members a (rule, (kind, n)) budget lets be out at once."""
    rule, (kind, n) = budget
    if rule == "max_unavailable":
        return min(size, n if kind == "count" else size * n // 100)
    keep = n if kind == "count" else math.ceil(size * n / 100)
    return size - keep


def _budget_text(budget):
    rule, (kind, n) = budget
    return f"{rule} {n}{'%' if kind == 'percent' else ''}"


def order_components(components):
    """Dependency order; components with no order between them keep the campaign's order."""
    done, out = set(), []
    while len(out) < len(components):
        # The campaign has no cycle (validate() refuses one), so some component is ready.
        comp = next(c for c in components if c["name"] not in done and all(d in done for d in c["depends_on"]))
        done.add(comp["name"])
        out.append(comp)
    return out


def _ancestors(components):
    deps = {c["name"]: set(c["depends_on"]) for c in components}
    memo = {}

    def walk(name):
        if name not in memo:
            memo[name] = set()
            for d in deps[name]:
                memo[name] |= {d} | walk(d)
        return memo[name]

    return {name: walk(name) for name in deps}


class _Budget:
    """One group's limit on how many of its members may be out at once."""

    __slots__ = ("name", "members", "size", "targets", "down", "allowed", "rule")

    def __init__(self, name, members, size, targets, down, allowed, rule):
        self.name, self.members, self.size, self.targets = name, members, size, targets
        self.down, self.allowed, self.rule = down, allowed, rule

    def as_dict(self):
        return {"group": self.name, "size": self.size, "targets": self.targets, "down": self.down,
                "allowed_out": self.allowed, "rule": self.rule}


def _budgets(comp, cpath, targets, groups, down, errors):
    """Every budget that applies to a component's hosts: its own, its groups', anti-affinity."""
    tset = set(targets)
    red = comp["redundancy"]
    specs = [(f"{comp['name']} targets", f"{cpath}.redundancy", targets, red["budget"])]
    for k, g in enumerate(red["groups"]):
        path = f"{cpath}.redundancy.groups[{k}].match"
        names = [n for n in sorted(groups) if n == g["match"] or fnmatch.fnmatchcase(n, g["match"])]
        if not names:
            errors.append((path, f"'{g['match']}' matches no inventory group"))
        specs += [(n, path, groups[n], g["budget"]) for n in names if tset.intersection(groups[n])]
    for k, pattern in enumerate(red["anti_affinity"]):
        path = f"{cpath}.redundancy.anti_affinity[{k}]"
        names = [n for n in sorted(groups) if n == pattern or fnmatch.fnmatchcase(n, pattern)]
        if not names:
            errors.append((path, f"'{pattern}' matches no inventory group"))
        specs += [(n, path, groups[n], ("max_unavailable", ("count", 1)))
                  for n in names if tset.intersection(groups[n])]
    out = []
    for name, path, members, budget in specs:
        members = list(members)
        n_down = sum(1 for h in members if h in down)
        allowed = allowed_out(len(members), budget) - n_down
        b = _Budget(name, frozenset(members), len(members), sum(1 for h in members if h in tset), n_down,
                    allowed, _budget_text(budget))
        if allowed < 1:
            down_text = f", {n_down} already down" if n_down else ""
            errors.append((path, f"budget cannot be met: group '{name}' ({len(members)} hosts{down_text}) "
                                 f"allows {max(allowed, 0)} out at once with {b.rule}"))
        out.append(b)
    return out


def pack(hosts, host_budgets, budgets, canary):
    """Split ``hosts`` into batches; each batch keeps every budget.

    ``host_budgets[h]`` lists the indexes into ``budgets`` that host h counts against.
    Greedy first fit: a host goes into the earliest batch where each of its groups still
    has room. The order hosts are placed in matters when groups overlap, so a few
    orders are tried (most constrained first by its tightest group, by the sum over
    its groups, then inventory order), the one with the fewest batches is kept, and
    its last batches are emptied into the others where the budgets allow.
    With groups that do not overlap, the first order meets the lower bound (the
    largest ceil(targets / allowed) over the groups).
    """
    rest = list(hosts)
    head = [[rest.pop(0)]] if canary and rest else []
    if not rest:
        return head
    need = [b.targets / b.allowed if b.allowed > 0 else 0.0 for b in budgets]
    position = {h: i for i, h in enumerate(hosts)}
    orders = (
        lambda h: (-max((math.ceil(need[i]) for i in host_budgets[h]), default=0), position[h]),
        lambda h: (-sum(need[i] for i in host_budgets[h]), position[h]),
        position.__getitem__,
    )
    best = None
    for key in orders:
        members = _first_fit(sorted(rest, key=key), host_budgets, budgets)
        if best is None or len(members) < len(best):
            best = members
    best = _empty_last_batches(best, host_budgets, budgets)
    return head + [sorted(m, key=position.__getitem__) for m in best]


def _first_fit(hosts, host_budgets, budgets):
    first_open = [0] * len(budgets)  # per budget: no batch before this one has room
    used = []  # per batch: budget index -> hosts of that group in the batch
    members = []
    for h in hosts:
        mine = host_budgets[h]
        k = max((first_open[i] for i in mine), default=0)
        while k < len(used) and any(used[k].get(i, 0) >= budgets[i].allowed for i in mine):
            k += 1
        if k == len(used):
            used.append({})
            members.append([])
        for i in mine:
            used[k][i] = used[k].get(i, 0) + 1
        members[k].append(h)
        for i in mine:
            while first_open[i] < len(used) and used[first_open[i]].get(i, 0) >= budgets[i].allowed:
                first_open[i] += 1
    return members


def _empty_last_batches(batches, host_budgets, budgets, limit=300000):
    """Try to do without the last batch: move each of its hosts into an earlier batch,
    directly or by moving one host of that batch on to a third one. Stops at the first
    host that cannot be moved, or after ``limit`` checks, so it stays fast on big clouds.
    """
    allowed = [b.allowed for b in budgets]
    used = []
    for batch in batches:
        counts = {}
        for h in batch:
            for i in host_budgets[h]:
                counts[i] = counts.get(i, 0) + 1
        used.append(counts)

    def fits(h, k, without=None):
        extra = host_budgets[without] if without is not None else ()
        return all(used[k].get(i, 0) - (i in extra) < allowed[i] for i in host_budgets[h])

    def move(h, src, dst):
        batches[src].remove(h)
        batches[dst].append(h)
        for i in host_budgets[h]:
            used[src][i] -= 1
            used[dst][i] = used[dst].get(i, 0) + 1

    checks = 0
    while len(batches) > 1 and checks < limit:
        last = len(batches) - 1
        for h in list(batches[last]):
            target = next((k for k in range(last) if fits(h, k)), None)
            checks += last
            if target is not None:
                move(h, last, target)
                continue
            swap = None
            for k in range(last):
                for x in batches[k]:
                    checks += 1
                    if not fits(h, k, without=x):
                        continue
                    j = next((j for j in range(last) if j != k and fits(x, j)), None)
                    checks += last
                    if j is not None:
                        swap = (x, k, j)
                        break
                if swap or checks >= limit:
                    break
            if swap is None:
                return batches
            x, k, j = swap
            move(x, k, j)
            move(h, last, k)
        batches.pop()
        used.pop()
    return batches


def lower_bound(budgets):
    return max((math.ceil(b.targets / b.allowed) for b in budgets if b.allowed > 0 and b.targets), default=0)


def _sites(campaign, targets, groups, cpath, errors):
    """Targets split by site, in site-name order, when the campaign does sites one at a time."""
    sites = campaign.get("sites")
    if not sites or not sites.get("one_at_a_time"):
        return [(None, targets)]
    names = sorted(n for n in groups if fnmatch.fnmatchcase(n, sites["match"]))
    if not names:
        errors.append(("sites.match", f"'{sites['match']}' matches no inventory group"))
        return [(None, targets)]
    where = {}
    for site in names:
        for h in groups[site]:
            where.setdefault(h, []).append(site)
    parts = {}
    for h in targets:
        found = where.get(h, [])
        if len(found) > 1:
            errors.append((f"{cpath}.targets", f"host {h} is in more than one site: {', '.join(found)}"))
        elif not found:
            errors.append((f"{cpath}.targets", f"host {h} is in no group matching '{sites['match']}'"))
        else:
            parts.setdefault(found[0], []).append(h)
    return [(site, parts[site]) for site in names if site in parts]


def build_plan(campaign, groups, all_hosts=None, down_hosts=(), run_id=None, now=None):
    """The plan for a validated campaign on an inventory.

    ``groups`` maps group name -> hosts in inventory order (Ansible's ``groups``
    variable); ``down_hosts`` are hosts already out of service, which count against
    every budget and are left out of the batches. Raises CampaignError.
    """
    if all_hosts is None:
        all_hosts = list(groups.get("all") or dict.fromkeys(h for hs in groups.values() for h in hs))
    down = set(down_hosts)
    errors = []
    resolved = {}
    unresolved = set()  # components whose targets are wrong: nothing more to say about them
    for i, comp in enumerate(campaign["components"]):
        cpath = f"components[{i}]"
        hosts = []
        before = len(errors)
        for j, pattern in enumerate(comp["targets"]):
            tpath = f"{cpath}.targets" + (f"[{j}]" if len(comp["targets"]) > 1 else "")
            single = names_single_host(pattern, groups, all_hosts)
            if single:
                errors.append((tpath, f"names single hosts ({', '.join(single)}); name inventory groups or patterns"))
                continue
            found = match_pattern(pattern, groups, all_hosts)
            if not found:
                errors.append((tpath, f"'{pattern}' matches no host in the inventory"))
            hosts += found
        chosen = set(hosts)
        resolved[comp["name"]] = (i, [h for h in all_hosts if h in chosen])
        if len(errors) > before:
            unresolved.add(comp["name"])

    ancestors = _ancestors(campaign["components"])
    names = [c["name"] for c in campaign["components"]]
    for a_i, a in enumerate(names):
        for b in names[a_i + 1:]:
            shared = set(resolved[a][1]) & set(resolved[b][1])
            if shared and a not in ancestors[b] and b not in ancestors[a]:
                host = next(h for h in all_hosts if h in shared)
                errors.append((f"components[{resolved[b][0]}].targets",
                               f"host {host} is also a target of '{a}' and neither component depends on the "
                               f"other; add depends_on to order them"))

    components = []
    for comp in order_components(campaign["components"]):
        if comp["name"] in unresolved:
            continue
        i, targets = resolved[comp["name"]]
        cpath = f"components[{i}]"
        budgets = _budgets(comp, cpath, targets, groups, down, errors)
        up = [h for h in targets if h not in down]
        host_budgets = {h: [] for h in up}
        for k, b in enumerate(budgets):
            for h in b.members:
                if h in host_budgets:
                    host_budgets[h].append(k)
        batches, batch_sites, bound = [], [], 0
        for site, site_hosts in _sites(campaign, up, groups, cpath, errors):
            if errors:
                break
            in_site = [0] * len(budgets)
            for h in site_hosts:
                for k in host_budgets[h]:
                    in_site[k] += 1
            site_budgets = [_Budget(b.name, b.members, b.size, in_site[k], b.down, b.allowed, b.rule)
                            for k, b in enumerate(budgets)]
            packed = pack(site_hosts, host_budgets, site_budgets, campaign["canary"])
            batches += packed
            batch_sites += [site] * len(packed)
            bound += lower_bound(site_budgets)
        expected = comp["expected_duration"]
        phases = {when: [_step(step, expected, campaign["timeout_margin"],
                               _step_hosts(step, f"{cpath}.phases.{when}[{k}]", groups, all_hosts, down, errors))
                         for k, step in enumerate(comp["phases"][when])]
                  for when in ("before", "after")}
        phase_time = sum(step["expected_duration"] for when in phases for step in phases[when])
        check = comp.get("rollback_check")
        if check:
            hosts = _step_hosts(check, f"{cpath}.rollback_check", groups, all_hosts, down, errors)
            check = _step(check, expected, campaign["timeout_margin"], hosts or [h for b in batches for h in b][:1])
        components.append({
            "name": comp["name"],
            "version": comp["version"],
            "targets": comp["targets"],
            "depends_on": comp["depends_on"],
            "hosts": [h for batch in batches for h in batch],
            "batches": [len(b) for b in batches],
            "batch_hosts": batches,
            # The site of each batch (sites.one_at_a_time), else none.
            "batch_sites": batch_sites,
            "canary": batches[0][0] if batches and campaign["canary"] else None,
            "lower_bound": bound,
            "budgets": [b.as_dict() for b in budgets],
            "expected_duration_s": expected,
            "timeout_s": round(expected * campaign["timeout_margin"], 1),
            "verify_timeout_s": min(comp.get("verify_timeout") or expected * campaign["timeout_margin"],
                                    round(expected * campaign["timeout_margin"], 1)),
            "verify_stable_s": comp.get("verify_stable") or 0,
            "batch_expected_s": [expected] * len(batches),
            "total_expected_s": expected * len(batches) + phase_time,
            "phases": phases,
            "artifact": comp["artifact"],
            "upgrade": comp["upgrade"],
            "maintenance": comp["maintenance"],
            "snapshot": comp["snapshot"],
            "verify": comp["verify"],
            "on_failure": comp["on_failure"],
            "coordination": comp["coordination"],
            "rollback_check": check,
            "skipped_down": [h for h in targets if h in down],
        })
    if errors:
        raise CampaignError(errors)

    hosts, serial, batches = run_hosts(components)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if run_id is None:
        digest = hashlib.sha256(json.dumps(campaign, sort_keys=True, default=str).encode()
                                + now.isoformat().encode()).hexdigest()[:8]
        run_id = f"{now:%Y%m%dT%H%M%SZ}-{digest}"
    return {
        "plan_format": PLAN_FORMAT,
        "run_id": run_id,
        "created_at": now.isoformat(timespec="seconds"),
        "campaign": {k: campaign.get(k) for k in CAMPAIGN_KEYS},
        "order": [c["name"] for c in components],
        "components": components,
        "hosts_total": sum(len(c["hosts"]) for c in components),
        "batches_total": sum(len(c["batches"]) for c in components),
        "expected_duration_s": sum(c["total_expected_s"] for c in components),
        "down_hosts": sorted(down),
        "run_hosts": hosts,
        "serial": serial,
        "batches": batches,
        "rollback_hosts": rollback_hosts(components),
    }


def _step(step, expected, margin, hosts):
    """A component-wide step with its own expected duration (the component's when it has
    none), the time after which it is stopped as hung, and the hosts it runs on (None: the
    node of the component the phase runs on)."""
    duration = step.get("expected_duration") or expected
    return dict(step, expected_duration=duration, timeout_s=round(duration * margin, 1), run_on_hosts=hosts)


def _step_hosts(step, path, groups, all_hosts, down, errors):
    """The hosts a step's run_on pattern names, in inventory order and without the hosts
    out of service; only the first with once: true."""
    if not step.get("run_on"):
        return None
    found = match_pattern(step["run_on"], groups, all_hosts)
    if not found:
        errors.append((f"{path}.run_on", f"'{step['run_on']}' matches no host in the inventory"))
        return None
    up = [h for h in found if h not in down]
    if not up:
        errors.append((f"{path}.run_on", f"every host '{step['run_on']}' matches is down: {', '.join(found)}"))
        return None
    return up[:1] if step.get("once") else up


def _fmt_duration(seconds):
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def render_table(plan, max_hosts=6):
    """The plan as text an operator reads before saying yes."""
    lines = [
        f"Plan {plan['run_id']} for campaign '{plan['campaign']['name']}': {plan['hosts_total']} hosts, "
        f"{plan['batches_total']} batches, expected {_fmt_duration(plan['expected_duration_s'])}",
    ]
    rows = [("component", "version", "batch", "size", "expected", "hosts")]
    for comp in plan["components"]:
        for when in ("before",):
            for step in comp["phases"][when]:
                rows.append((comp["name"], comp["version"], when, "-", _fmt_duration(step["expected_duration"]),
                             step["name"]))
        for n, batch in enumerate(comp["batch_hosts"], 1):
            shown = ", ".join(batch[:max_hosts]) + (f", ... (+{len(batch) - max_hosts})" if len(batch) > max_hosts else "")
            if n == 1 and comp["canary"]:
                shown += " (canary)"
            rows.append((comp["name"], comp["version"], str(n), str(len(batch)),
                         _fmt_duration(comp["batch_expected_s"][n - 1]), shown))
        for step in comp["phases"]["after"]:
            rows.append((comp["name"], comp["version"], "after", "-", _fmt_duration(step["expected_duration"]),
                         step["name"]))
    widths = [max(len(r[k]) for r in rows) for k in range(5)]
    for r in rows:
        lines.append("  ".join(r[k].ljust(widths[k]) for k in range(5)) + "  " + r[5])
    for comp in plan["components"]:
        budgets = "; ".join(f"{b['group']}: {b['allowed_out']} of {b['size']} out ({b['rule']})" for b in comp["budgets"])
        lines.append(f"{comp['name']}: {len(comp['batches'])} batches (lower bound {comp['lower_bound']}), "
                     f"on failure {comp['on_failure']}; budgets: {budgets}")
    return "\n".join(lines)
