"""The OpenStack lab's workload, through the cloud's own APIs (openstacksdk).

  openstack_workload.py ensure   create what is missing: a flavor, a 1 MiB raw image, a
                                 "VNF" of instances in an anti-affinity server group and a
                                 few standalone instances; wait until all are ACTIVE
  openstack_workload.py show     every instance: name, status, host, server group

Both print JSON. Credentials come from the usual OS_* variables (OS_AUTH_URL,
OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME); instances boot with no network.
"""
import argparse
import json
import os
import sys
import time

import openstack

FLAVOR = {"name": "lab.tiny", "vcpus": 1, "ram": 128, "disk": 1}
IMAGE = "lab-image"


def connect():
    missing = [name for name in ("OS_AUTH_URL", "OS_USERNAME", "OS_PASSWORD") if not os.environ.get(name)]
    if missing:
        sys.exit(f"error: set {', '.join(missing)} (the cloud's admin credentials)")
    return openstack.connect(
        auth_url=os.environ["OS_AUTH_URL"], username=os.environ["OS_USERNAME"],
        password=os.environ["OS_PASSWORD"], project_name=os.environ.get("OS_PROJECT_NAME", "admin"),
        user_domain_name="Default", project_domain_name="Default",
        region_name=os.environ.get("OS_REGION_NAME", "RegionOne"))


def instances(conn):
    groups = {member: group.name for group in conn.compute.server_groups(all_projects=True)
              for member in group.member_ids or []}
    return sorted(({"name": s.name, "id": s.id, "status": s.status, "host": s.compute_host,
                    "task_state": s.task_state, "group": groups.get(s.id)}
                   for s in conn.compute.servers(details=True, all_projects=True)),
                  key=lambda s: s["name"])


def ensure(conn, args):
    changed = []
    flavor = conn.compute.find_flavor(FLAVOR["name"])
    if flavor is None:
        flavor = conn.compute.create_flavor(**FLAVOR)
        changed.append(f"flavor {FLAVOR['name']}")
    image = conn.image.find_image(IMAGE)
    if image is None:
        image = conn.create_image(IMAGE, data=b"\0" * 1048576, disk_format="raw",
                                  container_format="bare", wait=True)
        changed.append(f"image {IMAGE}")
    group = conn.compute.find_server_group(args.group)
    if group is None:
        group = conn.compute.create_server_group(name=args.group, policy="anti-affinity")
        changed.append(f"server group {args.group}")
    wanted = [(f"{args.group}-{i}", {"group": group.id}) for i in range(1, args.members + 1)]
    wanted += [(f"standalone-{i}", None) for i in range(1, args.standalone + 1)]
    existing = {s.name for s in conn.compute.servers(all_projects=True)}
    for name, hints in wanted:
        if name in existing:
            continue
        attrs = dict(name=name, flavor_id=flavor.id, image_id=image.id, networks="none")
        if hints:
            attrs["scheduler_hints"] = hints
        conn.compute.create_server(**attrs)
        changed.append(f"instance {name}")
        # One at a time: the scheduler places each anti-affinity member knowing the last.
        wait_active(conn, [name], args.timeout)
    wait_active(conn, [name for name, dummy in wanted], args.timeout)
    found = instances(conn)
    hosts = [s["host"] for s in found if s["group"] == args.group]
    if len(hosts) != len(set(hosts)):
        sys.exit(f"error: anti-affinity violated in {args.group}: hosts {hosts}")
    return {"changed": changed, "image_id": image.id, "instances": found}


def wait_active(conn, names, timeout):
    deadline = time.monotonic() + timeout
    while True:
        status = {s["name"]: s["status"] for s in instances(conn) if s["name"] in names}
        failed = {n: st for n, st in status.items() if st == "ERROR"}
        if failed:
            sys.exit(f"error: instances in ERROR: {', '.join(sorted(failed))}")
        if len(status) == len(names) and set(status.values()) == {"ACTIVE"}:
            return
        if time.monotonic() > deadline:
            sys.exit(f"error: instances not ACTIVE after {timeout} s: {status}")
        time.sleep(1)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("command", choices=["ensure", "show"])
    parser.add_argument("--group", default="vnf-a", help="the VNF's server group (default: vnf-a)")
    parser.add_argument("--members", type=int, default=3, help="the VNF's instances (default: 3)")
    parser.add_argument("--standalone", type=int, default=3, help="instances in no group (default: 3)")
    parser.add_argument("--timeout", type=int, default=300, help="seconds to wait for ACTIVE (default: 300)")
    args = parser.parse_args(argv)
    conn = connect()
    try:
        result = ensure(conn, args) if args.command == "ensure" else {"instances": instances(conn)}
    except openstack.exceptions.SDKException as exc:
        sys.exit(f"error: {exc}")
    json.dump(result, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
