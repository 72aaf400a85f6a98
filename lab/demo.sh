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
        python3 lab/probe.py --duration 0 --timeout 3 --output "$state/probe.json" \
            --records "$state/probe-records.jsonl" >/dev/null &
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
# What the run shows is the status callback's: a live table on a terminal, lines otherwise;
# the log keeps it too.
export ANSIBLE_STDOUT_CALLBACK=opnfv.escalator.status ANSIBLE_LOG_PATH="$state/upgrade.log"
if [ -t 1 ]; then
    ansible-playbook "${inventory[@]}" playbooks/upgrade.yml -e escalator_state_dir="$state" || rc=$?
else
    ansible-playbook "${inventory[@]}" playbooks/upgrade.yml -e escalator_state_dir="$state" 2>&1 | cat || rc=$?
fi
unset ANSIBLE_STDOUT_CALLBACK ANSIBLE_LOG_PATH
end=$(date +%s)
sleep 2
kill -TERM "$probe"
wait "$probe" || true
trap - EXIT
echo "[demo] upgrade playbook: exit code $rc, $((end - start)) s (log: $state/upgrade.log)"
echo "[demo] what the users saw during the upgrade:"
cat "$state/probe.json"
run_id=$(python3 -c 'import json, pathlib, sys; print(json.loads(sorted(pathlib.Path(sys.argv[1]).glob("runs/*.report.json"))[-1].read_text())["run_id"])' "$state")
# The page again, now that the probe's records are whole.
probe_records="[]"
[ -s "$state/probe-records.jsonl" ] && probe_records="[\"$state/probe-records.jsonl\"]"
ansible localhost -o -m opnfv.escalator.html_report \
    -a "{\"path\": \"$state/runs\", \"run_id\": \"$run_id\", \"probe_records\": $probe_records}" >/dev/null
echo "[demo] the report page: $state/runs/$run_id.report.html"
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
