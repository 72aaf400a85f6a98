# Copyright: OPNFV Escalator developers
# Apache License 2.0 (see LICENSE or https://www.apache.org/licenses/LICENSE-2.0)
"""Maintenance-mode backends: take a node out of service and put it back.

Private to the opnfv.escalator collection. Every backend has the same small interface
(``read``, ``take_out``, ``wait_empty``, ``put_back``, ``wait_serving``), and
``set_maintenance`` drives it: it reads first and does nothing when the node is
already where it should be, waits until the node really carries no work (or really
serves again), and undoes a half-done change before it fails.
"""

from __future__ import annotations

import csv
import io
import json
import socket
import time

ENABLED = "enabled"  # in maintenance: carries no work
DISABLED = "disabled"  # in service


# Each backend's options, as the maintenance_mode module takes them (its argument spec)
# and as planning checks a campaign's maintenance settings against them.
BACKEND_OPTIONS = {
    "haproxy": dict(
        socket=dict(type="str", default="/run/haproxy/admin.sock"),
        backends=dict(type="list", elements="str", required=True),
        peers=dict(type="list", elements="str", default=[]),
        peers_wait=dict(type="int", default=10),
    ),
    "nova": dict(
        cloud=dict(type="str"),
        config_file=dict(type="path"),
        reason=dict(type="str", default="upgrade in progress (opnfv.escalator)"),
        live_migrate=dict(type="bool", default=True),
        block_migration=dict(type="str", default="auto"),
        keep_instances=dict(type="bool", default=False),
    ),
    "command": dict(
        enter=dict(type="str", required=True),
        exit=dict(type="str", required=True),
        status=dict(type="str", required=True),
        empty=dict(type="str"),
        serving=dict(type="str"),
    ),
    "pacemaker": {},
}


class MaintenanceError(Exception):
    pass


class GuardError(MaintenanceError):
    """The node was not taken out because the rest of its group does not serve; nothing changed."""


def wait_for(predicate, timeout, interval, sleep=time.sleep, clock=time.monotonic):
    """Poll until predicate() returns a true value; return it, or None after timeout."""
    deadline = clock() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if clock() >= deadline:
            return None
        sleep(interval)


class Backend:
    """What a backend must provide. ``read`` returns (state, details)."""

    name = "base"

    def describe(self):
        """The node as the error messages name it."""
        raise NotImplementedError

    def read(self):
        raise NotImplementedError

    def guard(self):
        """Before the node goes out: raise GuardError unless the rest of its group serves."""

    def take_out(self):
        """Stop new work from reaching the node (drain)."""
        raise NotImplementedError

    def wait_empty(self, timeout):
        """Wait until the node carries no work; True when it does not."""
        raise NotImplementedError

    def finish_out(self):
        """After it is empty: the node is fully in maintenance."""

    def why_not_empty(self):
        """What the backend knows of why the node did not empty (an empty string: nothing)."""
        return ""

    def ready(self, timeout):  # pylint: disable=unused-argument
        """Before it is put back: whatever must run on the node runs (True), or did not
        within timeout seconds (False: it stays out)."""
        return True

    def put_back(self):
        raise NotImplementedError

    def wait_serving(self, timeout):
        raise NotImplementedError


def set_maintenance(backend, wanted, timeout, check_mode=False):
    """Bring the node to ``wanted`` (ENABLED or DISABLED). Returns (changed, before, after).

    An error raised before anything was asked of the backend (its state could not be read,
    the guard refused) has ``untouched`` set: the node is as it was."""
    try:
        before_state, before = backend.read()
        if before_state == wanted:
            return False, before, before
        if wanted == ENABLED:
            backend.guard()
    except MaintenanceError as exc:
        exc.untouched = True
        raise
    if check_mode:
        return True, before, dict(before, state=wanted)
    if wanted == ENABLED:
        try:
            backend.take_out()
            empty = backend.wait_empty(timeout)
        except Exception:
            # Half taken out: put the node back before reporting the first error.
            try:
                backend.put_back()
            except Exception:  # pylint: disable=broad-exception-caught
                pass
            raise
        if not empty:
            backend.put_back()
            why = backend.why_not_empty()
            raise MaintenanceError(f"{backend.describe()} still carried work after {timeout}s; it was put back "
                                   "in service. Raise the timeout or find what holds the work." + (f" {why}" if why else ""))
        backend.finish_out()
    else:
        if not backend.ready(timeout):
            raise MaintenanceError(f"{backend.describe()} did not serve again within {timeout}s; it was left in "
                                   "maintenance. Check the service on the node.")
        backend.put_back()
        if not backend.wait_serving(timeout):
            backend.take_out()
            backend.finish_out()
            raise MaintenanceError(f"{backend.describe()} did not serve again within {timeout}s; it was left in "
                                   "maintenance. Check the service on the node.")
    after_state, after = backend.read()
    return True, before, after


# -- HAProxy ------------------------------------------------------------------------

# srv_admin_state bits (HAProxy's SRV_ADMF_*): forced maintenance, inherited, drain.
_FMAINT, _IMAINT, _FDRAIN = 0x01, 0x02, 0x08
_OP_UP = 2


class HAProxyRuntime:
    """The runtime API over a unix socket path or a host:port TCP address.

    An API that cannot be reached (HAProxy reloading, its socket briefly gone) is tried again
    every ``interval`` seconds for up to ``unreachable_for`` seconds before it is an error:
    every command sent here (show, set server state) may be sent twice."""

    def __init__(self, address, timeout=5.0, unreachable_for=0.0, interval=1.0, sleep=time.sleep,
                 clock=time.monotonic):
        self.address = address
        self.timeout = timeout
        self.unreachable_for = unreachable_for
        self.interval = interval
        self.sleep = sleep
        self.clock = clock
        # How many times the API could not be reached and was tried again (for the result).
        self.retried = 0

    def _target(self):
        if self.address.startswith("/"):
            return socket.AF_UNIX, self.address
        host, dummy, port = self.address.rpartition(":")
        if not host or not port.isdigit():
            raise MaintenanceError(f"haproxy.socket: {self.address!r} is neither a unix socket path nor host:port")
        return socket.AF_INET, (host, int(port))

    def _once(self, family, target, command):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(target)
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        finally:
            sock.close()
        return b"".join(chunks).decode(errors="replace")

    def __call__(self, command):
        family, target = self._target()
        deadline = self.clock() + max(self.unreachable_for, 0.0)
        while True:
            try:
                return self._once(family, target, command)
            except OSError as exc:
                if self.clock() + self.interval > deadline:
                    waited = f" (tried for {self.unreachable_for:g} s)" if self.unreachable_for > 0 else ""
                    raise MaintenanceError(f"cannot reach the HAProxy runtime API at {self.address}{waited}: {exc}. "
                                           "Check haproxy.socket, that HAProxy runs and that the task runs on the "
                                           "load balancer (delegate_to).") from exc
                self.retried += 1
                self.sleep(self.interval)


def haproxy_servers(api, backend):
    """server name -> {op, admin} of one backend, from the runtime API's `show servers state`."""
    out = api(f"show servers state {backend}")
    if "Can't find backend" in out or "No such backend" in out:
        raise MaintenanceError(f"haproxy.backends: HAProxy has no backend {backend!r}")
    servers = {}
    for line in out.splitlines():
        cols = line.split()
        if len(cols) > 6 and cols[0].isdigit() and cols[1] == backend:
            servers[cols[3]] = {"op": int(cols[5]), "admin": int(cols[6])}
    return servers


def haproxy_serving(server):
    """Whether a server of haproxy_servers() takes traffic: UP, not in maintenance, not draining."""
    return server["op"] == _OP_UP and not server["admin"] & (_FMAINT | _IMAINT | _FDRAIN)


class HAProxyBackend(Backend):
    name = "haproxy"

    def __init__(self, node, backends, api, interval=0.2, sleep=time.sleep, clock=time.monotonic,
                 peers=(), peers_wait=10):
        self.node = node
        self.backends = backends
        self.api = api
        self.peers, self.peers_wait = list(peers), peers_wait
        self.interval, self.sleep, self.clock = interval, sleep, clock

    def describe(self):
        return f"HAProxy server {self.node} in {', '.join(self.backends)}"

    def _servers(self):
        """backend -> {admin, op} for this node, from `show servers state`."""
        found = {}
        for backend in self.backends:
            servers = haproxy_servers(self.api, backend)
            if self.node not in servers:
                raise MaintenanceError(f"HAProxy backend {backend!r} has no server named {self.node!r}")
            found[backend] = servers[self.node]
        return found

    def _sessions(self):
        out = self.api("show stat")
        total = 0
        rows = csv.DictReader(io.StringIO(out.lstrip("# ")))
        for row in rows:
            if row.get("pxname") in self.backends and row.get("svname") == self.node:
                total += int(row.get("scur") or 0)
        return total

    def read(self):
        servers = self._servers()
        in_maint = all(s["admin"] & (_FMAINT | _IMAINT) for s in servers.values())
        serving = all(haproxy_serving(s) for s in servers.values())
        state = ENABLED if in_maint else DISABLED if serving else "transition"
        details = {"state": state, "sessions": self._sessions(),
                   "servers": {b: {"operational": s["op"], "admin": s["admin"]} for b, s in sorted(servers.items())}}
        return state, details

    def _set(self, state):
        for backend in self.backends:
            out = self.api(f"set server {backend}/{self.node} state {state}").strip()
            if out:
                raise MaintenanceError(f"HAProxy refused 'set server {backend}/{self.node} state {state}': {out}")

    def _not_serving(self):
        """'backend/server' of the peers that do not serve, in the same runtime API call as the drain.

        A peer this load balancer does not carry serves behind another one (another site's):
        it is not counted here. A backend that carries none of the peers would be left with
        no server once the node is out, and counts as one peer missing.
        """
        missing = []
        for backend in self.backends:
            servers = haproxy_servers(self.api, backend)
            carried = [peer for peer in self.peers if peer in servers]
            if not carried:
                missing.append(f"{backend}/(no other server)")
            missing += [f"{backend}/{peer}" for peer in carried if not haproxy_serving(servers[peer])]
        return missing

    def guard(self):
        """The peers must serve in every backend (waiting up to peers_wait seconds for them)."""
        if not self.peers:
            return
        missing = []

        def all_serve():
            missing[:] = self._not_serving()
            return not missing
        if wait_for(all_serve, self.peers_wait, self.interval, self.sleep, self.clock) is None:
            raise GuardError(f"guard: {', '.join(missing)} not serving after {self.peers_wait}s; {self.node} was "
                             "left in service, as taking it out would leave its group short.")

    def take_out(self):
        self._set("drain")

    def wait_empty(self, timeout):
        return wait_for(lambda: self._sessions() == 0, timeout, self.interval, self.sleep, self.clock) is not None

    def finish_out(self):
        self._set("maint")

    def put_back(self):
        self._set("ready")

    def wait_serving(self, timeout):
        def up():
            return all(s["op"] == _OP_UP and not s["admin"] & (_FMAINT | _IMAINT | _FDRAIN)
                       for s in self._servers().values())
        return wait_for(up, timeout, self.interval, self.sleep, self.clock) is not None


# -- Nova (openstacksdk) --------------------------------------------------------------

class NovaBackend(Backend):
    """A compute host: disable its nova-compute service and live-migrate every instance off."""

    name = "nova"

    def __init__(self, node, conn, reason, live_migrate=True, block_migration="auto", interval=5.0,
                 sleep=time.sleep, clock=time.monotonic, keep_instances=False):
        self.node, self.conn, self.reason = node, conn, reason
        self.live_migrate, self.block_migration = live_migrate and not keep_instances, block_migration
        # Only disabled, for work on nova-compute itself (a restart): the instances stay
        # and keep running; the host is out once none of them has a task under way.
        self.keep_instances = keep_instances
        self.interval, self.sleep, self.clock = interval, sleep, clock
        # Per instance asked to move: (times asked, when last); Nova's last passing refusal.
        self._asked, self._refused = {}, None
        # Boots scheduled before the disable that no compute has taken yet: any of them
        # may still land here (take_out lists them).
        self._landing = set()

    def describe(self):
        return f"Nova compute host {self.node}"

    def _service(self):
        services = list(self.conn.compute.services(binary="nova-compute", host=self.node))
        if not services:
            raise MaintenanceError(f"Nova has no nova-compute service on host {self.node!r}")
        return services[0]

    def _instances(self):
        # openstacksdk names the host filter compute_host (an unknown "host" matches nothing).
        return list(self.conn.compute.servers(all_projects=True, compute_host=self.node))

    def _unplaced(self):
        """The ids of the boots no compute has taken yet: building, on no host (Nova gives an
        instance its host when a compute claims it, after the scheduler chose that compute)."""
        return {s.id for s in self.conn.compute.servers(all_projects=True, status="BUILD")
                if s.status == "BUILD" and not getattr(s, "compute_host", None)}

    def guard(self):
        """Refuse before anything changes when the other computes cannot take this host's
        instances: none of them is enabled and up, an anti-affinity group would need a host
        it has no member on, or their free VCPU or memory is less than the instances use."""
        instances = self._instances()
        if not instances or self.keep_instances:
            return
        if self.live_migrate:
            stuck = [f"{s.name or s.id} ({s.status})" for s in instances
                     if s.status not in self.MOVABLE and not self._going(s)]
            if stuck:
                raise GuardError(f"{self.node} carries instance(s) that live migration cannot move: {', '.join(stuck)}; "
                                 "repair them (e.g. reset an ERROR instance's state once its cause is fixed) or "
                                 "move them first")
        others = [s for s in self.conn.compute.services(binary="nova-compute") if s.host != self.node]
        targets = sorted(s.host for s in others if s.status == "enabled" and s.state == "up")
        if not targets:
            raise GuardError(f"{len(instances)} instance(s) on {self.node} and no other nova-compute is enabled "
                             "and up to take them")
        host_of = {s.id: s.compute_host for s in self.conn.compute.servers(all_projects=True)}
        for group in self.conn.compute.server_groups(all_projects=True):
            policy = group.policy or (group.policies or [None])[0]
            here = [m for m in group.member_ids or [] if host_of.get(m) == self.node]
            if policy != "anti-affinity" or not here:
                continue
            used = {host_of.get(m) for m in group.member_ids}
            free = [h for h in targets if h not in used]
            if len(free) < len(here):
                raise GuardError(f"server group {group.name} (anti-affinity) has {len(here)} member(s) on {self.node} "
                                 f"and {len(free)} enabled compute(s) without a member to move to "
                                 f"(enabled and up: {', '.join(targets)})")
        need = {"VCPU": 0, "MEMORY_MB": 0}
        for server in instances:
            flavor = server.flavor
            need["VCPU"] += int(getattr(flavor, "vcpus", 0) or 0)
            need["MEMORY_MB"] += int(getattr(flavor, "ram", 0) or 0)
        free = {"VCPU": 0, "MEMORY_MB": 0}
        for host in targets:
            for rc, amount in self._free(host).items():
                if rc in free:
                    free[rc] += max(0, amount)
        short = [f"{rc} {need[rc]} needed, {free[rc]} free" for rc in need if need[rc] > free[rc]]
        if short:
            raise GuardError(f"the enabled computes ({', '.join(targets)}) cannot take the {len(instances)} instance(s) "
                             f"of {self.node}: {'; '.join(short)}")

    def _free(self, host):
        """Free amount per resource class of a compute's resource provider in Placement."""
        providers = list(self.conn.placement.resource_providers(name=host))
        if not providers:
            raise MaintenanceError(f"Placement has no resource provider named {host!r}")
        rp = providers[0].id
        inventories = self.conn.placement.get(f"/resource_providers/{rp}/inventories").json()["inventories"]
        usages = self.conn.placement.get(f"/resource_providers/{rp}/usages").json()["usages"]
        return {rc: int((inv["total"] - inv["reserved"]) * inv["allocation_ratio"]) - usages.get(rc, 0)
                for rc, inv in inventories.items()}

    def read(self):
        service = self._service()
        instances = self._instances()
        disabled = service.status == "disabled"
        out = not instances or (self.keep_instances and not self._busy(instances))
        state = ENABLED if disabled and out else DISABLED if not disabled else "transition"
        projects = {}
        for server in instances:
            projects.setdefault(getattr(server, "project_id", None) or "", []).append(server.id)
        return state, {"state": state, "service": service.status, "instances": len(instances),
                       "reason": getattr(service, "disabled_reason", None), "projects": projects}

    # How many times one instance is asked to move before the host is left to the timeout,
    # and how long after a refusal it is asked again.
    MIGRATION_ATTEMPTS = 6
    RETRY_AFTER = 20.0
    # Instances live migration moves, now or once their build or migration is over.
    MOVABLE = ("ACTIVE", "BUILD", "MIGRATING", "PAUSED")

    def take_out(self):
        """Disable the compute (the scheduler sends it nothing new), then live-migrate what
        can move now; wait_empty moves the rest as they become ready."""
        self.conn.compute.disable_service(self._service(), disabled_reason=self.reason)
        self._asked, self._refused = {}, None
        # The scheduler may have chosen this compute for a boot just before the disable:
        # such a boot lands here seconds later, and a restart of nova-compute meanwhile
        # leaves it in ERROR. The host is not empty until each of them has landed.
        self._landing = self._unplaced()
        if self.live_migrate:
            self._migrate_ready()

    def _migrate_ready(self):
        """Ask Nova to live-migrate each instance that is ACTIVE with no task under way.
        One still building (booted just before the disable), being deleted or migrating is
        left for the next round. Nova's refusals that pass are tried again RETRY_AFTER
        seconds later, up to MIGRATION_ATTEMPTS times: 409 Conflict (the instance's state
        changed between the listing and the call), 400 No valid host and 500 MigrationError
        (the scheduler's view of the hosts' instances lags behind the migrations just done,
        and the destination refused the host it chose: the instance stays ACTIVE where it
        was). So is an instance whose migration failed and left it here."""
        now = self.clock()
        for server in self._instances():
            if server.status == "ERROR" and server.id in self._asked:
                fault = getattr(server, "fault", None) or {}
                raise MaintenanceError(f"{server.name or server.id} went to ERROR after Nova was asked to live-migrate "
                                       f"it off {self.node}: {fault.get('message') or self._refused or 'no fault given'}")
            if server.status != "ACTIVE" or server.task_state:
                continue
            count, last = self._asked.get(server.id, (0, None))
            if count >= self.MIGRATION_ATTEMPTS or (last is not None and now - last < self.RETRY_AFTER):
                continue
            self._asked[server.id] = (count + 1, now)
            try:
                self.conn.compute.live_migrate_server(server, host=None, block_migration=self.block_migration)
            except Exception as exc:  # openstacksdk's HttpException; no import of the SDK here
                code, text = getattr(exc, "status_code", None), str(exc)
                if code == 409 or (code == 400 and "no valid host" in text.lower()) or \
                        (code == 500 and "MigrationError" in text):
                    self._refused = f"{server.name or server.id}: {str(exc).strip()[:300]}"
                    continue
                raise

    @staticmethod
    def _going(server):
        """Being deleted: it leaves the host by itself (wait_empty waits for it)."""
        return server.status == "DELETED" or server.task_state == "deleting"

    @staticmethod
    def _busy(instances):
        """The instances with work under way on their host: building, or with a task."""
        return [s for s in instances if s.status == "BUILD" or s.task_state]

    def _still_landing(self):
        """The boots of take_out's list that no compute has taken yet."""
        if self._landing:
            self._landing &= self._unplaced()
        return self._landing

    def wait_empty(self, timeout):
        def empty():
            if self._still_landing():
                return False
            if self.keep_instances:
                return not self._busy(self._instances())
            if self.live_migrate:
                self._migrate_ready()
            return not self._instances()
        return wait_for(empty, timeout, self.interval, self.sleep, self.clock) is not None

    def why_not_empty(self):
        if self._landing:
            return f"boots scheduled before the disable and taken by no compute yet: {', '.join(sorted(self._landing))}"
        if self.keep_instances:
            busy = self._busy(self._instances())
            return f"still busy: {', '.join(f'{s.name or s.id} ({s.task_state or s.status})' for s in busy)}" if busy else ""
        return f"Nova's last refusal: {self._refused}" if self._refused else ""

    def ready(self, timeout):
        """nova-compute runs: it has reported (a heartbeat writes its service record) since
        now, and Nova counts it up. Enabling calls nova-compute (to sync the
        COMPUTE_STATUS_DISABLED trait): one just restarted answers only once started, later
        than a load balancer in front of the API waits; and one that stops at start (an
        older release Nova refuses) never reports, while Nova counts it up for a while
        after its last report."""
        since = getattr(self._service(), "updated_at", None)

        def running():
            service = self._service()
            return service.state == "up" and (since is None or getattr(service, "updated_at", None) != since)
        return wait_for(running, timeout, self.interval, self.sleep, self.clock) is not None

    def put_back(self):
        try:
            self.conn.compute.enable_service(self._service())
        except Exception:  # openstacksdk's HttpException; no import of the SDK here
            # Nova writes the record before it calls nova-compute: a time out of that call
            # (504 from a load balancer) leaves the compute enabled.
            if self._service().status != "enabled":
                raise

    def wait_serving(self, timeout):
        """Enabled, and up."""
        def serving():
            service = self._service()
            return service.status == "enabled" and service.state == "up"
        return wait_for(serving, timeout, self.interval, self.sleep, self.clock) is not None


# -- Pacemaker ------------------------------------------------------------------------

class PacemakerBackend(Backend):
    """A cluster node put in standby: Pacemaker moves its resources away."""

    name = "pacemaker"

    def __init__(self, node, run, interval=2.0, sleep=time.sleep, clock=time.monotonic):
        self.node, self.run = node, run
        self.interval, self.sleep, self.clock = interval, sleep, clock

    def describe(self):
        return f"Pacemaker node {self.node}"

    def _call(self, argv):
        rc, out, err = self.run(argv)
        if rc != 0:
            raise MaintenanceError(f"{' '.join(argv)} failed with exit code {rc}: {(err or out).strip()[:300]}")
        return out

    def _resources(self):
        out = self._call(["crm_mon", "-1", "--output-as=xml"])
        marker = f'name="{self.node}"'
        for line in out.splitlines():
            if "<node " in line and marker in line:
                for part in line.split():
                    if part.startswith("resources_running="):
                        return int(part.split("=", 1)[1].strip('"/>'))
        raise MaintenanceError(f"Pacemaker has no node named {self.node!r}")

    def read(self):
        standby = self._call(["crm_attribute", "--node", self.node, "--name", "standby", "--query",
                              "--quiet", "--default", "off"]).strip() in ("on", "true", "1")
        running = self._resources()
        state = ENABLED if standby and running == 0 else DISABLED if not standby else "transition"
        return state, {"state": state, "standby": standby, "resources_running": running}

    def take_out(self):
        self._call(["crm_attribute", "--node", self.node, "--name", "standby", "--update", "on"])

    def wait_empty(self, timeout):
        return wait_for(lambda: self._resources() == 0, timeout, self.interval, self.sleep, self.clock) is not None

    def put_back(self):
        self._call(["crm_attribute", "--node", self.node, "--name", "standby", "--update", "off"])

    def wait_serving(self, timeout):
        return True


# -- Any other service: operator-given commands -----------------------------------------

class CommandBackend(Backend):
    """``enter``/``exit`` commands; ``status`` exits 0 when the node is in maintenance;
    optional ``empty`` and ``serving`` exit 0 when the node carries no work / serves."""

    name = "command"

    def __init__(self, node, run, enter, exit_, status, empty=None, serving=None, interval=1.0,
                 sleep=time.sleep, clock=time.monotonic):
        self.node, self.run = node, run
        self.enter, self.exit, self.status, self.empty, self.serving = enter, exit_, status, empty, serving
        self.interval, self.sleep, self.clock = interval, sleep, clock

    def describe(self):
        return f"node {self.node}"

    def _sh(self, command):
        return self.run(["/bin/sh", "-c", command])

    def _must(self, what, command):
        rc, out, err = self._sh(command)
        if rc != 0:
            raise MaintenanceError(f"command.{what} failed with exit code {rc}: {(err or out).strip()[:300]}")

    def read(self):
        rc, out, dummy = self._sh(self.status)
        state = ENABLED if rc == 0 else DISABLED
        return state, {"state": state, "status_rc": rc, "status_output": out.strip()[:500]}

    def take_out(self):
        self._must("enter", self.enter)

    def wait_empty(self, timeout):
        if not self.empty:
            return True
        return wait_for(lambda: self._sh(self.empty)[0] == 0, timeout, self.interval, self.sleep,
                        self.clock) is not None

    def put_back(self):
        self._must("exit", self.exit)

    def wait_serving(self, timeout):
        if not self.serving:
            return True
        return wait_for(lambda: self._sh(self.serving)[0] == 0, timeout, self.interval, self.sleep,
                        self.clock) is not None


def to_json(details):
    return json.dumps(details, sort_keys=True, indent=2) + "\n"
