"""The OpenStack probe's bookkeeping: which instance is lost, what is a live migration,
when anti-affinity is broken, and the per-API figures."""

import probe_openstack as po


def server(sid, status="ACTIVE", host="cmp1", name=None):
    return {"id": sid, "name": name or f"vm-{sid}", "status": status, "host": host}


def test_a_live_migration_is_not_a_loss_and_is_timed():
    t = po.Tracker()
    t.sample(0, [server("a", host="cmp1")])
    t.sample(1, [server("a", status="MIGRATING", host="cmp1")])
    t.sample(3, [server("a", host="cmp2")])
    s = t.summary(4)
    assert s["lost"] == 0 and s["total"] == 1
    assert s["migrations"] == [{"name": "vm-a", "from": "cmp1", "to": "cmp2", "duration_s": 2}]
    assert s["max_not_active_s"] == 2


def test_an_instance_that_errors_stops_or_vanishes_is_lost():
    t = po.Tracker()
    t.sample(0, [server("a"), server("b"), server("c")])
    t.sample(1, [server("a", status="ERROR"), server("b", status="SHUTOFF")])
    s = t.summary(5)
    assert s["lost"] == 3
    assert s["lost_detail"] == ["vm-a was ERROR", "vm-b was SHUTOFF", "vm-c disappeared"]
    # Still not ACTIVE at the end: counted up to the end of the run.
    assert s["max_not_active_s"] == 4


def test_an_instance_on_no_host_is_lost():
    t = po.Tracker()
    t.sample(0, [server("a", host=None)])
    assert t.summary(1)["lost_detail"] == ["vm-a was on no host"]


def test_probe_instances_are_not_followed():
    t = po.Tracker()
    t.sample(0, [server("p", name="probe-1-1", status="BUILD", host=None)])
    t.sample(1, [])
    assert t.summary(2)["total"] == 0 and t.summary(2)["lost"] == 0


def test_two_members_of_a_group_on_one_host_are_a_violation():
    t = po.Tracker({"a": "vnf-a", "b": "vnf-a", "c": "vnf-a"})
    t.sample(0, [server("a", host="cmp1"), server("b", host="cmp2"), server("c", host="cmp3")])
    assert t.summary(1)["anti_affinity_violations"] == 0
    t.sample(1, [server("a", host="cmp1"), server("b", host="cmp1"), server("c", host="cmp3")])
    s = t.summary(2)
    assert s["anti_affinity_violations"] == 1
    assert s["violations"] == [{"at_s": 1, "group": "vnf-a", "host": "cmp1", "instances": ["vm-a", "vm-b"]}]


def test_api_summary_counts_failures_and_the_gap():
    records = [(0.0, 0.1, True, "200"), (0.2, 0.3, False, "503"), (0.4, 0.5, False, "timeout"),
               (2.0, 2.1, True, "200")]
    s = po.api_summary(records, 3.0)
    assert s["total"] == 4 and s["failed"] == 2
    assert s["failures_by_status"] == {"503": 1, "timeout": 1}
    assert s["longest_gap_s"] == 2.0


def test_a_failed_request_names_who_answered_and_why():
    from_nova = po.failed_request("nova", "GET", "/v2.1/servers/detail", 503, "", {"X-Served-By": "ctl2"},
                                  {"computeFault": {"code": 503, "message": "Service Unavailable"}})
    assert (from_nova["backend"], from_nova["message"], from_nova["request"]) == (
        "ctl2", "Service Unavailable", "GET /v2.1/servers/detail")
    from_haproxy = po.failed_request("nova", "GET", "/v2.1/servers/x", 503, "", {}, None)
    assert (from_haproxy["backend"], from_haproxy["message"], from_haproxy["status"]) == ("", "", 503)
    unanswered = po.failed_request("glance", "GET", "/v2/images", 0, "timeout", None, None)
    assert unanswered["error"] == "timeout" and unanswered["at"].endswith("+00:00")


def test_bad_arguments_are_refused(capsys):
    import pytest

    for argv in (["--concurrency", "0"], ["--create-interval", "-1"], ["--duration", "-2"]):
        with pytest.raises(SystemExit):
            po.parse_args(argv)
    assert "--create-interval must be 0 or more" in capsys.readouterr().err


def test_a_boot_that_errors_is_counted_with_when_where_and_novas_reason():
    class Cloud:
        def get(self, api, path):
            return 200, {"server": {"status": "ERROR", "OS-EXT-SRV-ATTR:host": "os-cmp2",
                                    "fault": {"message": "Build of instance was re-scheduled"}}}
    probe = po.OpenStackProbe(Cloud(), 1, 0.01, group_names=())
    calls = []

    def call(kind, api, method, path, expected, body=None):
        calls.append(kind)
        if len(calls) > 1:
            probe.stop.set()
        return True, {"server": {"id": "s1"}}
    probe._call = call
    probe._delete = lambda sid: True
    probe._create_delete()
    assert probe.cycles["done"] == 0 and probe.cycles["failed"] >= 1
    error = probe.cycles["errors"][0]
    assert error.startswith(f"{po.PROBE_PREFIX}") and "status ERROR, deleted True, seen " in error
    assert error.endswith("UTC on os-cmp2: Build of instance was re-scheduled"), error
