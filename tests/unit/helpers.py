"""Helpers shared by the unit tests: inventories as `groups`, editing campaigns by path."""

import copy
import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load_groups(inventory_file):
    """Ansible's `groups` variable for a YAML inventory: group -> hosts, children included."""
    data = yaml.safe_load(pathlib.Path(inventory_file).read_text())
    direct, children, order = {}, {}, []

    def walk(name, node):
        direct.setdefault(name, [])
        children.setdefault(name, [])
        node = node or {}
        for host in node.get("hosts") or {}:
            direct[name].append(host)
            if host not in order:
                order.append(host)
        for child, sub in (node.get("children") or {}).items():
            children[name].append(child)
            walk(child, sub)

    def members(name):
        return list(dict.fromkeys(direct[name] + [h for c in children[name] for h in members(c)]))

    walk("all", data["all"])
    groups = {name: members(name) for name in direct}
    groups["all"] = order
    return groups


def set_path(doc, path, value):
    """Set (or delete, for None) the field at a path like components[1].redundancy.groups."""
    tokens = [int(t) if t.isdigit() else t for t in re.findall(r"[^.\[\]]+", path)]
    node = doc
    for tok in tokens[:-1]:
        if isinstance(node, dict) and tok not in node:
            node[tok] = {}
        node = node[tok]
    if value is None:
        del node[tokens[-1]]
    else:
        node[tokens[-1]] = copy.deepcopy(value)
