"""Maintenance backends against fakes: a scripted HAProxy runtime API, a mocked SDK."""

import socket
import threading
import time
from types import SimpleNamespace
from unittest import mock

import pytest

from ansible_collections.opnfv.escalator.plugins.module_utils._maintenance import (
    DISABLED,
    ENABLED,
    CommandBackend,
    GuardError,
    HAProxyBackend,
    HAProxyRuntime,
    MaintenanceError,
    NovaBackend,
    PacemakerBackend,
    set_maintenance,
    wait_for,
)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def sleep(self, s):
        self.now += s

    def __call__(self):
        return self.now


class FakeHAProxy:
    """A tiny HAProxy runtime API: servers with admin/op state and current sessions."""

    def __init__(self, sessions_after_drain=0, comes_up=True):
        self.servers = {"ctl1": {"admin": 0, "op": 2, "scur": 3}, "ctl2": {"admin": 0, "op": 2, "scur": 1}}
        self.sessions_after_drain = sessions_after_drain
        self.comes_up = comes_up
        self.commands = []

    def __call__(self, command):
        self.commands.append(command)
        if command.startswith("show servers state"):
            backend = command.split()[-1]
            if backend != "keystone":
                return f"Can't find backend '{backend}'.\n"
            rows = [f"3 keystone {i} {name} 127.10.0.1{i} {s['op']} {s['admin']} 1 1 10 6 3 4 6 0 0 0 - 5000 -"
                    for i, (name, s) in enumerate(sorted(self.servers.items()), 1)]
            return "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ...\n" + "\n".join(rows) + "\n"
        if command == "show stat":
            lines = ["# pxname,svname,qcur,qmax,scur"]
            lines += [f"keystone,{n},0,0,{s['scur']}" for n, s in sorted(self.servers.items())]
            return "\n".join(lines) + "\n"
        if command.startswith("set server"):
            name = command.split()[2].split("/")[1]
            state = command.split()[-1]
            s = self.servers[name]
            if state == "drain":
                s["admin"] = 0x08
                s["scur"] = self.sessions_after_drain
            elif state == "maint":
                s["admin"] = 0x01
                s["op"] = 0
            elif state == "ready":
                s["admin"] = 0
                s["op"] = 2 if self.comes_up else 0
            return "\n"
        return "Unknown command\n"


def _haproxy(fake, node="ctl1", backends=("keystone",)):
    clock = FakeClock()
    return HAProxyBackend(node, list(backends), fake, interval=0.5, sleep=clock.sleep, clock=clock)


def test_haproxy_drain_waits_then_maint():
    fake = FakeHAProxy()
    changed, before, after = set_maintenance(_haproxy(fake), ENABLED, timeout=10)
    assert changed
    assert before["state"] == DISABLED and before["sessions"] == 3
    assert after["state"] == ENABLED and after["sessions"] == 0
    sets = [c for c in fake.commands if c.startswith("set")]
    assert sets == ["set server keystone/ctl1 state drain", "set server keystone/ctl1 state maint"]
    assert fake.servers["ctl2"]["admin"] == 0  # the other node is untouched


def test_haproxy_enable_is_idempotent_and_check_mode_changes_nothing():
    fake = FakeHAProxy()
    changed, before, after = set_maintenance(_haproxy(fake), ENABLED, timeout=10, check_mode=True)
    assert changed and after["state"] == ENABLED
    assert not [c for c in fake.commands if c.startswith("set")]
    set_maintenance(_haproxy(fake), ENABLED, timeout=10)
    fake.commands.clear()
    assert set_maintenance(_haproxy(fake), ENABLED, timeout=10)[0] is False
    assert not [c for c in fake.commands if c.startswith("set")]


def test_haproxy_drain_that_never_empties_is_undone():
    fake = FakeHAProxy(sessions_after_drain=2)
    with pytest.raises(MaintenanceError, match="still carried work after 5s; it was put back in service"):
        set_maintenance(_haproxy(fake), ENABLED, timeout=5)
    assert fake.servers["ctl1"]["admin"] == 0  # ready again


def test_haproxy_back_in_service_waits_for_up():
    fake = FakeHAProxy()
    set_maintenance(_haproxy(fake), ENABLED, timeout=10)
    changed, before, after = set_maintenance(_haproxy(fake), DISABLED, timeout=10)
    assert changed and before["state"] == ENABLED and after["state"] == DISABLED


def test_haproxy_node_that_does_not_come_back_stays_in_maintenance():
    fake = FakeHAProxy(comes_up=False)
    set_maintenance(_haproxy(fake), ENABLED, timeout=10)
    with pytest.raises(MaintenanceError, match="did not serve again within 3s; it was left in maintenance"):
        set_maintenance(_haproxy(fake), DISABLED, timeout=3)
    assert fake.servers["ctl1"]["admin"] == 0x01


def test_haproxy_unknown_backend_and_server_are_named():
    with pytest.raises(MaintenanceError, match="HAProxy has no backend 'nova'"):
        set_maintenance(_haproxy(FakeHAProxy(), backends=["nova"]), ENABLED, timeout=1)
    with pytest.raises(MaintenanceError, match="has no server named 'ctl9'"):
        set_maintenance(_haproxy(FakeHAProxy(), node="ctl9"), ENABLED, timeout=1)


def test_unreachable_admin_socket_is_a_clear_error(tmp_path):
    api = HAProxyRuntime(str(tmp_path / "nope.sock"), timeout=0.5)
    with pytest.raises(MaintenanceError, match="cannot reach the HAProxy runtime API at .*nope.sock.*delegate_to"):
        api("show stat")
    with pytest.raises(MaintenanceError, match="neither a unix socket path nor host:port"):
        HAProxyRuntime("lb1")("show stat")


def test_an_error_before_anything_was_asked_says_the_node_is_untouched(tmp_path):
    """A state that cannot be read: nothing was asked of the load balancer. A failure once the
    drain was asked for is not untouched."""
    api = HAProxyRuntime(str(tmp_path / "gone.sock"), timeout=0.5)
    with pytest.raises(MaintenanceError) as caught:
        set_maintenance(HAProxyBackend("ctl1", ["keystone"], api), ENABLED, timeout=1)
    assert caught.value.untouched is True

    class DiesOnSet(FakeHAProxy):
        def __call__(self, command):
            if command.startswith("set"):
                raise MaintenanceError("gone while draining")
            return super().__call__(command)

    with pytest.raises(MaintenanceError) as caught:
        set_maintenance(_haproxy(DiesOnSet()), ENABLED, timeout=1)
    assert not getattr(caught.value, "untouched", False)


def test_an_admin_socket_gone_for_a_while_is_tried_again_until_it_is_back(tmp_path):
    """HAProxy reloading, or its socket moved away and back: the command is sent once it answers."""
    path = tmp_path / "admin.sock"
    served = []

    def serve():
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
            server.bind(str(path))
            server.listen(1)
            conn, dummy = server.accept()
            with conn:
                served.append(conn.recv(1024))
                conn.sendall(b"answered\n")

    waits = []

    def sleep(seconds):
        waits.append(seconds)
        if len(waits) == 3:  # back after the third try
            thread = threading.Thread(target=serve, daemon=True)
            thread.start()
            while not path.exists():
                time.sleep(0.01)

    api = HAProxyRuntime(str(path), timeout=2, unreachable_for=60, interval=1, sleep=sleep)
    assert api("show servers state keystone") == "answered\n"
    assert served == [b"show servers state keystone\n"] and waits == [1, 1, 1] and api.retried == 3


def test_an_admin_socket_that_stays_gone_is_an_error_at_the_end_of_its_window(tmp_path):
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    api = HAProxyRuntime(str(tmp_path / "gone.sock"), unreachable_for=10, interval=2, sleep=sleep, clock=lambda: now[0])
    with pytest.raises(MaintenanceError, match=r"cannot reach the HAProxy runtime API at .*gone.sock \(tried for 10 s\)"):
        api("show stat")
    assert api.retried == 5 and now[0] == 10


def _nova(instances, status="enabled", **options):
    service = SimpleNamespace(host="cmp1", status=status, state="up", disabled_reason=None)
    other = SimpleNamespace(host="cmp2", status="enabled", state="up", disabled_reason=None)
    compute = mock.Mock()
    compute.services.side_effect = lambda binary=None, host=None: [s for s in (service, other)
                                                                   if host in (None, s.host)]
    state = {"instances": [SimpleNamespace(id=name, name=name, compute_host="cmp1", status="ACTIVE", task_state=None,
                                           flavor=SimpleNamespace(vcpus=1, ram=128)) for name in instances]}
    compute.servers.side_effect = lambda **kw: list(state["instances"])
    compute.server_groups.return_value = []

    def disable(svc, disabled_reason=None):
        svc.status, svc.disabled_reason = "disabled", disabled_reason

    def enable(svc):
        svc.status = "enabled"

    def migrate(server, host=None, block_migration=None):
        state["instances"].remove(server)

    compute.disable_service.side_effect = disable
    compute.enable_service.side_effect = enable
    compute.live_migrate_server.side_effect = migrate
    placement = mock.Mock()
    placement.resource_providers.return_value = [SimpleNamespace(id="rp-cmp2")]
    placement.get.side_effect = lambda url: SimpleNamespace(json=lambda: {
        "inventories": {"VCPU": {"total": 8, "reserved": 0, "allocation_ratio": 1.0},
                        "MEMORY_MB": {"total": 4096, "reserved": 512, "allocation_ratio": 1.0}},
        "usages": {"VCPU": 0, "MEMORY_MB": 0}})
    clock = FakeClock()
    backend = NovaBackend("cmp1", SimpleNamespace(compute=compute, placement=placement), "upgrade", interval=1,
                          sleep=clock.sleep, clock=clock, **options)
    return backend, compute, service


def test_nova_disables_and_migrates_every_instance():
    backend, compute, service = _nova(["vm1", "vm2"])
    changed, before, after = set_maintenance(backend, ENABLED, timeout=60)
    assert changed and before["instances"] == 2 and after == {
        "state": ENABLED, "service": "disabled", "instances": 0, "reason": "upgrade", "projects": {}}
    # Each project's instances on the host, for the managers told of its maintenance.
    assert before["projects"] == {"": ["vm1", "vm2"]}
    assert compute.live_migrate_server.call_count == 2
    compute.servers.assert_called_with(all_projects=True, compute_host="cmp1")
    assert set_maintenance(backend, ENABLED, timeout=60)[0] is False
    assert set_maintenance(backend, DISABLED, timeout=60)[2]["service"] == "enabled"


def test_nova_keep_instances_only_disables_and_waits_for_work_under_way():
    """For a restart of nova-compute: the instances stay where they are, the guard asks
    nothing of the other computes, and the host is out once no instance is busy."""
    backend, compute, service = _nova(["vm1", "new"], keep_instances=True)
    servers = {s.id: s for s in compute.servers()}
    servers["new"].status, servers["new"].task_state = "BUILD", "spawning"
    compute.services.side_effect = lambda binary=None, host=None: [s for s in (service,) if host in (None, s.host)]
    ticks = {"n": 0}

    def sleep(seconds):
        ticks["n"] += 1
        if ticks["n"] == 3:  # the boot under way ends
            servers["new"].status, servers["new"].task_state = "ACTIVE", None
    backend.sleep = sleep
    changed, before, after = set_maintenance(backend, ENABLED, timeout=60)
    assert changed and ticks["n"] == 3
    assert after == {"state": ENABLED, "service": "disabled", "instances": 2, "reason": "upgrade",
                     "projects": {"": ["vm1", "new"]}}
    compute.live_migrate_server.assert_not_called()
    assert set_maintenance(backend, ENABLED, timeout=60)[0] is False  # idempotent
    changed, _before, after = set_maintenance(backend, DISABLED, timeout=60)
    assert changed and after["service"] == "enabled" and after["instances"] == 2


@pytest.mark.parametrize("lands_on, busy_polls", [("cmp1", 2), ("cmp2", 0)])
def test_nova_waits_for_boots_scheduled_before_the_disable_to_land(lands_on, busy_polls):
    """A boot the scheduler sent here just before the disable has no host until this
    compute takes it: the host is not out (nova-compute may not restart) before every
    boot listed at the disable has a host, and then is not busy. A boot that lands
    elsewhere ends the wait too."""
    backend, compute, service = _nova(["vm1"], keep_instances=True)
    listing = compute.servers.side_effect
    boot = SimpleNamespace(id="probe-1", name="probe-1", compute_host=None, status="BUILD",
                           task_state="scheduling", flavor=SimpleNamespace(vcpus=1, ram=128))
    polls = {"n": 0}

    def servers(status=None, compute_host=None, **kw):
        found = listing(**kw) + [boot]
        return [s for s in found if (status is None or s.status == status)
                and (compute_host is None or s.compute_host == compute_host)]
    compute.servers.side_effect = servers

    def sleep(seconds):
        polls["n"] += 1
        if polls["n"] == 3:  # the compute takes it: it has a host, still building
            boot.compute_host, boot.task_state = lands_on, "spawning"
        if polls["n"] == 3 + busy_polls:
            boot.status, boot.task_state = "ACTIVE", None
    backend.sleep = sleep
    changed, _before, after = set_maintenance(backend, ENABLED, timeout=60)
    assert changed and after["state"] == ENABLED
    # Not out before the boot had a host (3 polls) and, here, had finished building.
    assert polls["n"] == 3 + busy_polls, polls
    assert after["instances"] == (2 if lands_on == "cmp1" else 1)
    assert set_maintenance(backend, DISABLED, timeout=60)[2]["service"] == "enabled"


def test_nova_a_boot_that_never_lands_is_named_and_the_compute_put_back():
    backend, compute, service = _nova([], keep_instances=True)
    stuck = SimpleNamespace(id="probe-2", name="probe-2", compute_host=None, status="BUILD", task_state="scheduling")
    compute.servers.side_effect = lambda status=None, compute_host=None, **kw: [stuck] if compute_host is None else []
    with pytest.raises(MaintenanceError, match="taken by no compute yet: probe-2"):
        set_maintenance(backend, ENABLED, timeout=10)
    assert service.status == "enabled"


def test_nova_keep_instances_puts_back_a_host_whose_work_never_ends():
    backend, compute, service = _nova(["vm1"], keep_instances=True)
    compute.servers()[0].task_state = "migrating"
    with pytest.raises(MaintenanceError, match=r"still carried work.*vm1 \(migrating\)"):
        set_maintenance(backend, ENABLED, timeout=10)
    assert service.status == "enabled"
    compute.live_migrate_server.assert_not_called()


def test_nova_instances_that_do_not_leave_undo_the_disable():
    backend, compute, service = _nova(["vm1"])
    compute.live_migrate_server.side_effect = None  # migrations never finish
    with pytest.raises(MaintenanceError, match="still carried work"):
        set_maintenance(backend, ENABLED, timeout=10)
    assert service.status == "enabled"


def test_nova_moves_an_instance_booted_during_the_disable_once_it_is_active():
    """An instance still building when the compute is disabled is not asked to move (Nova
    would answer 409); once ACTIVE it is, and a 409 from a race is tried again."""
    backend, compute, service = _nova(["vm1", "new"])
    servers = {s.id: s for s in compute.servers()}
    servers["new"].status, servers["new"].task_state = "BUILD", "spawning"
    migrate = compute.live_migrate_server.side_effect
    conflicts = {"n": 0}

    def live_migrate(server, host=None, block_migration=None):
        if server.status != "ACTIVE":
            raise AssertionError("asked to move an instance that is not ACTIVE")
        if server.id == "new" and conflicts["n"] == 0:
            conflicts["n"] += 1
            raise type("ConflictException", (Exception,), {"status_code": 409})("409 Conflict")
        migrate(server)
    compute.live_migrate_server.side_effect = live_migrate
    polls = {"n": 0}
    listing = compute.servers.side_effect

    def servers_listing(**kw):
        polls["n"] += 1
        if polls["n"] == 4:
            servers["new"].status, servers["new"].task_state = "ACTIVE", None
        return listing(**kw)
    compute.servers.side_effect = servers_listing
    changed, _before, after = set_maintenance(backend, ENABLED, timeout=60)
    assert changed and after["instances"] == 0 and conflicts["n"] == 1
    assert compute.live_migrate_server.call_count == 3


def test_nova_retries_no_valid_host_until_the_scheduler_catches_up_and_says_why_it_gave_up():
    """The scheduler's view of where a group's members are lags behind the migrations just
    done: Nova answers 400 No valid host for a while. Asked again 20 s later, the
    instance moves; if it never can, the timeout's error quotes Nova's refusal."""
    no_host = type("BadRequestException", (Exception,), {"status_code": 400})(
        "400: No valid host was found. There are not enough hosts available.")
    backend, compute, service = _nova(["vm1"])
    migrate = compute.live_migrate_server.side_effect
    calls = {"n": 0}

    def live_migrate(server, host=None, block_migration=None):
        calls["n"] += 1
        if calls["n"] < 3:
            raise no_host
        migrate(server)
    compute.live_migrate_server.side_effect = live_migrate
    changed, _before, after = set_maintenance(backend, ENABLED, timeout=120)
    assert changed and after["instances"] == 0 and calls["n"] == 3

    backend, compute, service = _nova(["vm1"])
    compute.live_migrate_server.side_effect = no_host
    with pytest.raises(MaintenanceError, match="Nova's last refusal: vm1: 400: No valid host"):
        set_maintenance(backend, ENABLED, timeout=300)
    assert compute.live_migrate_server.call_count == NovaBackend.MIGRATION_ATTEMPTS
    assert service.status == "enabled"


def test_nova_other_errors_from_a_migration_request_are_not_swallowed():
    backend, compute, service = _nova(["vm1"])
    compute.live_migrate_server.side_effect = type("HttpException", (Exception,), {"status_code": 500})("boom")
    with pytest.raises(Exception, match="boom"):
        set_maintenance(backend, ENABLED, timeout=10)
    assert service.status == "enabled"  # the half-done disable was undone


def test_nova_an_instance_that_errors_on_its_way_out_stops_the_drain_at_once():
    """Nova's destination refused the move and set the instance to ERROR: waiting would
    not help. The error names it and Nova's fault, and the compute is back in service."""
    backend, compute, service = _nova(["vnf-a-3"])

    def refuse(server, host=None, block_migration=None):
        server.status, server.fault = "ERROR", {"message": "Anti-affinity instance group policy was violated"}
        raise type("HttpException", (Exception,), {"status_code": 500})(
            "500: Unexpected API Error <class 'nova.exception_Remote.MigrationError_Remote'>")
    compute.live_migrate_server.side_effect = refuse
    with pytest.raises(MaintenanceError, match="vnf-a-3 went to ERROR after Nova was asked to live-migrate it off "
                                               "cmp1: Anti-affinity instance group policy was violated"):
        set_maintenance(backend, ENABLED, timeout=300)
    assert service.status == "enabled"


def test_nova_guard_refuses_a_compute_with_an_instance_live_migration_cannot_move():
    backend, compute, service = _nova(["vm1", "broken"])
    next(s for s in compute.servers() if s.id == "broken").status = "ERROR"
    with pytest.raises(GuardError, match=r"cmp1 carries instance\(s\) that live migration cannot move: broken \(ERROR\)"):
        set_maintenance(backend, ENABLED, timeout=60)
    assert service.status == "enabled" and compute.live_migrate_server.call_count == 0


def test_nova_an_instance_being_deleted_is_waited_for_not_refused():
    """A user deleting an instance as the drain starts (status DELETED, or a delete under
    way): it leaves by itself, so the guard lets the drain start and waits for it."""
    backend, compute, service = _nova(["vm1", "gone", "going"])
    servers = {s.id: s for s in compute.servers()}
    servers["gone"].status = "DELETED"
    servers["going"].task_state = "deleting"
    instances = compute.servers.side_effect

    def servers_now(**kw):
        found = instances(**kw)
        if compute.live_migrate_server.call_count:  # the deletes end meanwhile
            found = [s for s in found if s.id == "vm1"]
        return found
    compute.servers.side_effect = servers_now
    changed, _before, after = set_maintenance(backend, ENABLED, timeout=60)
    assert changed and after["instances"] == 0
    assert [c.args[0].id for c in compute.live_migrate_server.call_args_list] == ["vm1"]


def test_nova_back_in_service_waits_until_the_compute_reports_up():
    """A compute enabled but not reporting (nova-compute restarting on new code) is not
    back yet: put back succeeds once Nova sees it up, and fails if it never does."""
    backend, compute, service = _nova([], status="disabled")
    service.state = "down"
    with pytest.raises(MaintenanceError):
        set_maintenance(backend, DISABLED, timeout=10)
    checks = {"n": 0}

    def services(binary=None, host=None):
        checks["n"] += 1
        if checks["n"] > 3:
            service.state = "up"
        return [service] if host in (None, "cmp1") else []
    compute.services.side_effect = services
    service.status = "disabled"
    changed, _before, after = set_maintenance(backend, DISABLED, timeout=60)
    assert changed and after["service"] == "enabled" and service.state == "up"


def test_nova_back_in_service_enables_once_nova_compute_has_reported():
    """Nova counts a compute up for a while after its record was last written: a
    nova-compute that stops at start (an older release Nova refuses) looks up. The
    compute is enabled only once nova-compute has reported since; and an enable whose call
    to nova-compute times out at a load balancer (504) after Nova wrote the record counts."""
    backend, compute, service = _nova([], status="disabled")
    service.updated_at = "09:00:00"
    with pytest.raises(MaintenanceError, match="did not serve again within 10s; it was left in maintenance"):
        set_maintenance(backend, DISABLED, timeout=10)
    assert service.status == "disabled" and not compute.enable_service.called
    polls = {"n": 0}

    def services(binary=None, host=None):
        polls["n"] += 1
        if polls["n"] == 6:
            service.updated_at = "09:00:15"  # nova-compute's heartbeat
        return [service] if host in (None, "cmp1") else []
    compute.services.side_effect = services
    enable = compute.enable_service.side_effect

    def enable_then_time_out(svc):
        assert polls["n"] >= 6, "enabled before nova-compute reported"
        enable(svc)
        raise RuntimeError("504 Gateway Time-out")
    compute.enable_service.side_effect = enable_then_time_out
    changed, _before, after = set_maintenance(backend, DISABLED, timeout=60)
    assert changed and after["service"] == "enabled"


def test_nova_unknown_host():
    backend, compute, service = _nova([])
    compute.services.side_effect = lambda binary=None, host=None: []
    with pytest.raises(MaintenanceError, match="no nova-compute service on host 'cmp1'"):
        set_maintenance(backend, ENABLED, timeout=1)


def test_pacemaker_standby_waits_for_resources_to_move():
    calls, state = [], {"standby": "off", "running": 2}

    def run(argv):
        calls.append(argv)
        if argv[0] == "crm_attribute" and "--query" in argv:
            return 0, state["standby"] + "\n", ""
        if argv[0] == "crm_attribute":
            state["standby"] = argv[-1]
            state["running"] = 0 if argv[-1] == "on" else 2
            return 0, "", ""
        if argv[0] == "crm_mon":
            return 0, f'<nodes>\n  <node name="n1" online="true" resources_running="{state["running"]}"/>\n</nodes>\n', ""
        return 1, "", "unexpected"

    clock = FakeClock()
    backend = PacemakerBackend("n1", run, interval=1, sleep=clock.sleep, clock=clock)
    changed, before, after = set_maintenance(backend, ENABLED, timeout=10)
    assert changed and before["resources_running"] == 2 and after["resources_running"] == 0
    assert set_maintenance(backend, ENABLED, timeout=10)[0] is False
    assert set_maintenance(backend, DISABLED, timeout=10)[2]["standby"] is False


def test_command_backend_runs_the_operators_commands():
    state = {"maint": False}
    log = []

    def run(argv):
        cmd = argv[-1]
        log.append(cmd)
        if cmd == "status":
            return (0 if state["maint"] else 1), "", ""
        if cmd == "enter":
            state["maint"] = True
        if cmd == "exit":
            state["maint"] = False
        return 0, "", ""

    backend = CommandBackend("n1", run, "enter", "exit", "status", empty="empty", serving="serving")
    assert set_maintenance(backend, ENABLED, timeout=5)[0] is True
    assert log == ["status", "enter", "empty", "status"]
    assert set_maintenance(backend, ENABLED, timeout=5)[0] is False
    assert set_maintenance(backend, DISABLED, timeout=5)[0] is True


def test_command_backend_failure_names_the_command():
    backend = CommandBackend("n1", lambda argv: (1, "", "boom") if argv[-1] != "status" else (1, "", ""),
                             "enter", "exit", "status")
    with pytest.raises(MaintenanceError, match="command.enter failed with exit code 1: boom"):
        set_maintenance(backend, ENABLED, timeout=5)


def test_wait_for_gives_up_after_the_timeout():
    clock = FakeClock()
    assert wait_for(lambda: False, 3, 1, clock.sleep, clock) is None
    assert clock.now == 3
    assert wait_for(lambda: "yes", 3, 1, clock.sleep, clock) == "yes"


def test_haproxy_guard_takes_the_node_out_only_while_its_peers_serve():
    fake = FakeHAProxy()
    clock = FakeClock()
    backend = HAProxyBackend("ctl1", ["keystone"], fake, interval=0.5, sleep=clock.sleep, clock=clock,
                             peers=["ctl2", "ctl3"], peers_wait=3)
    fake.servers["ctl3"] = {"admin": 0x01, "op": 2, "scur": 0}  # already out for another reason
    with pytest.raises(GuardError, match=r"guard: keystone/ctl3 not serving after 3s; ctl1 was left in service"):
        set_maintenance(backend, ENABLED, timeout=10)
    assert not [c for c in fake.commands if c.startswith("set")] and fake.servers["ctl1"]["admin"] == 0
    with pytest.raises(GuardError):  # check mode refuses the same way
        set_maintenance(backend, ENABLED, timeout=10, check_mode=True)
    fake.servers["ctl3"]["admin"] = 0
    assert set_maintenance(backend, ENABLED, timeout=10)[0] is True
    assert fake.servers["ctl1"]["admin"] == 0x01
    # Out already (a resumed run): no guard, nothing to do.
    fake.servers["ctl2"]["admin"] = 0x01
    assert set_maintenance(backend, ENABLED, timeout=10)[0] is False


def test_haproxy_guard_counts_only_the_peers_this_balancer_carries():
    # Two sites, one load balancer each: ctl-b1 serves behind the other site's balancer.
    fake = FakeHAProxy()
    clock = FakeClock()
    backend = HAProxyBackend("ctl1", ["keystone"], fake, interval=0.5, sleep=clock.sleep, clock=clock,
                             peers=["ctl2", "ctl-b1"], peers_wait=1)
    assert set_maintenance(backend, ENABLED, timeout=10)[0] is True
    assert fake.servers["ctl1"]["admin"] == 0x01


def test_haproxy_guard_refuses_when_the_balancer_carries_no_peer():
    # The node's whole site in one batch: this balancer would be left with no server.
    fake = FakeHAProxy()
    clock = FakeClock()
    backend = HAProxyBackend("ctl1", ["keystone"], fake, interval=0.5, sleep=clock.sleep, clock=clock,
                             peers=["ctl-b1", "ctl-b2"], peers_wait=1)
    with pytest.raises(GuardError, match=r"guard: keystone/\(no other server\) not serving after 1s"):
        set_maintenance(backend, ENABLED, timeout=10)
    assert fake.servers["ctl1"]["admin"] == 0


# -- Nova's guard: can the other computes take this host's instances? -----------------

def _cloud(hosts, servers, groups=(), free=None):
    """A fake cloud: hosts {name: (status, state)}; servers [(id, host, vcpus, ram)];
    groups [(name, policy, [ids])]; free {host: {VCPU: n, MEMORY_MB: n}} in Placement."""
    free = free or {h: {"VCPU": 100, "MEMORY_MB": 100000} for h in hosts}
    compute = mock.Mock()
    services = [SimpleNamespace(host=h, status=st, state=up, disabled_reason=None) for h, (st, up) in hosts.items()]
    compute.services.side_effect = lambda binary=None, host=None: [s for s in services if host in (None, s.host)]
    vms = [SimpleNamespace(id=i, name=i, compute_host=h, status="ACTIVE", task_state=None, flavor=SimpleNamespace(vcpus=c, ram=r))
           for i, h, c, r in servers]
    compute.servers.side_effect = lambda all_projects=True, compute_host=None: [
        v for v in vms if compute_host in (None, v.compute_host)]
    compute.server_groups.return_value = [SimpleNamespace(name=n, policy=p, policies=None, member_ids=m)
                                          for n, p, m in groups]
    placement = mock.Mock()
    placement.resource_providers.side_effect = lambda name: [SimpleNamespace(id=f"rp-{name}")]

    def get(url):
        host = url.split("/")[2][3:]
        if url.endswith("/inventories"):
            body = {"inventories": {rc: {"total": n, "reserved": 0, "allocation_ratio": 1.0}
                                    for rc, n in free[host].items()}}
        else:
            body = {"usages": {rc: 0 for rc in free[host]}}
        return SimpleNamespace(json=lambda: body)

    placement.get.side_effect = get
    clock = FakeClock()
    return NovaBackend("cmp1", SimpleNamespace(compute=compute, placement=placement), "upgrade", interval=1,
                       sleep=clock.sleep, clock=clock), compute


UP = ("enabled", "up")


def test_nova_guard_passes_when_the_others_can_take_the_instances():
    backend, compute = _cloud({"cmp1": UP, "cmp2": UP, "cmp3": UP},
                              [("a1", "cmp1", 1, 128), ("a2", "cmp2", 1, 128), ("s1", "cmp1", 1, 128)],
                              groups=[("vnf", "anti-affinity", ["a1", "a2"])])
    backend.guard()


def test_nova_guard_refuses_with_no_other_compute_enabled_and_up():
    backend, compute = _cloud({"cmp1": UP, "cmp2": ("disabled", "up"), "cmp3": ("enabled", "down")},
                              [("s1", "cmp1", 1, 128)])
    with pytest.raises(GuardError, match="1 instance.* on cmp1 and no other nova-compute is enabled and up"):
        set_maintenance(backend, ENABLED, timeout=10)
    compute.disable_service.assert_not_called()


def test_nova_guard_refuses_when_anti_affinity_leaves_no_host():
    # Three members on three of three computes: the one on cmp1 has nowhere to go.
    backend, compute = _cloud({"cmp1": UP, "cmp2": UP, "cmp3": UP},
                              [("a1", "cmp1", 1, 128), ("a2", "cmp2", 1, 128), ("a3", "cmp3", 1, 128)],
                              groups=[("vnf", "anti-affinity", ["a1", "a2", "a3"]), ("other", "affinity", ["a2"])])
    with pytest.raises(GuardError, match=r"server group vnf \(anti-affinity\) has 1 member\(s\) on cmp1 and 0 "
                                         r"enabled compute\(s\) without a member"):
        set_maintenance(backend, ENABLED, timeout=10)
    compute.disable_service.assert_not_called()


def test_nova_guard_refuses_when_the_others_lack_capacity():
    backend, compute = _cloud({"cmp1": UP, "cmp2": UP},
                              [("s1", "cmp1", 2, 4096), ("s2", "cmp1", 2, 4096)],
                              free={"cmp2": {"VCPU": 8, "MEMORY_MB": 6000}})
    with pytest.raises(GuardError, match="cannot take the 2 instance.* of cmp1: MEMORY_MB 8192 needed, 6000 free"):
        set_maintenance(backend, ENABLED, timeout=10)
    compute.disable_service.assert_not_called()


def test_nova_guard_has_nothing_to_check_on_an_empty_host():
    backend, compute = _cloud({"cmp1": UP}, [])
    backend.guard()
    compute.server_groups.assert_not_called()
