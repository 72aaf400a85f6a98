#!/usr/bin/env bash
# The demo: the lab's old cloud under live traffic, upgraded with no outage.
#   lab/demo.sh            the Keystone lab (make demo: lab-down, lab-up first)
#   lab/demo.sh openstack  the OpenStack lab (make demo-openstack: deployed afresh first)
set -euo pipefail
cd "$(dirname "$0")/.."
lab=${1:-keystone}
state=$(mktemp -d /tmp/escalator-demo.XXXXXX)
case "$lab" in
    keystone)
        inventory=()
        python3 lab/probe.py --duration 0 --timeout 3 --output "$state/probe.json" >/dev/null &
        ;;
    openstack)
        inventory=(-i inventories/lab-openstack)
        # The API calls, a server booted and deleted every 10 s, every instance watched.
        python3 lab/probe_openstack.py --duration 0 --create-interval 10 --output "$state/probe.json" >/dev/null &
        ;;
    *) echo "usage: lab/demo.sh [keystone|openstack]" >&2; exit 2 ;;
esac
probe=$!
trap 'kill "$probe" 2>/dev/null || true' EXIT
sleep 2
echo "[demo] traffic probe running through HAProxy; planning and upgrading"
ansible-playbook "${inventory[@]}" playbooks/plan.yml -e escalator_plan_file="$state/plan.json" | sed -n '/msg:$/,/Written to/p'
start=$(date +%s)
rc=0
ansible-playbook "${inventory[@]}" playbooks/upgrade.yml -e escalator_state_dir="$state" >"$state/upgrade.log" 2>&1 || rc=$?
end=$(date +%s)
sleep 2
kill -TERM "$probe"
wait "$probe" || true
trap - EXIT
echo "[demo] upgrade playbook: exit code $rc, $((end - start)) s (log: $state/upgrade.log)"
echo "[demo] what the users saw during the upgrade:"
cat "$state/probe.json"
echo "[demo] report:"
python3 - "$state" <<'PY'
import json, pathlib, sys
state = pathlib.Path(sys.argv[1])
report = json.loads(sorted(state.glob("runs/*.report.json"))[-1].read_text())
print(f"run {report['run_id']} of {report['campaign']}")
for pair, r in sorted(report["nodes"].items()):
    print(f"  {pair}: {r.get('result')}, {r.get('version', '-')}, out of service {r.get('drained_seconds', '-')} s "
          f"(switch + restart until serving: {r.get('work_seconds', '-')} s)")
for step in report.get("steps", []):
    if step["when"] == "stage":
        print(f"  staging the new version on every target, in service: {step['seconds']} s")
    else:
        print(f"  {step['component']} steps {step['when']} the nodes: {step['seconds']} s")
print(f"  the whole run: {report.get('seconds', '-')} s")
PY
exit "$rc"
