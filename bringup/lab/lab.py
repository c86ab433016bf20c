"""`bringup lab up | down | status`: the embedded lab of a stack, on this host.

State lives in ``.lab/<stack>/`` (git-ignored): the SSH key pair and known_hosts, the package
repository, each node's layers, and ``state.json``. `down` does not trust the state: it removes
every namespace, bridge and veth named with the lab's prefixes, whatever made them.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bringup.lab import hosts
from bringup.lab.extra_vars import lab_extra_vars
from bringup.lab.faults import Options, heal, inject
from bringup.lab.layout import BRIDGE_PREFIX, NETNS_PREFIX, VETH_PREFIX, lab_layout
from bringup.lab.packages import build_repository
from bringup.lab.profile import node_profile
from bringup.lab.system import LabError, alive, ip, kill, links, netns_list, netns_pids, run
from bringup.plan import Plan


@dataclass(frozen=True)
class Lab:
    """The lab of one stack, rooted at ``<project>/.lab/<stack>``."""

    project: Path
    stack: str

    @property
    def dir(self) -> Path:
        """The lab's folder."""
        return self.project / ".lab" / self.stack

    @property
    def key(self) -> Path:
        """The private key Ansible and the tests log in with."""
        return self.dir / "ssh" / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        """Every node's host key, by name and by management address."""
        return self.dir / "ssh" / "known_hosts"

    @property
    def ssh_config(self) -> Path:
        """An ssh_config for the lab's nodes (testinfra's --ssh-config, plain `ssh -F`)."""
        return self.dir / "ssh" / "config"

    def _ssh_config(self) -> str:
        # Host-key checking stays strict: the lab's known_hosts holds every node's real key. The
        # key exchange is plain curve25519: the default post-quantum hybrid costs each side
        # ~0.1 s of CPU per connection, and here both sides share the controller's cores.
        return (
            "Host *\n"
            "  User root\n"
            f"  IdentityFile {self.key.resolve()}\n"
            "  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {self.known_hosts.resolve()}\n"
            "  StrictHostKeyChecking yes\n"
            "  BatchMode yes\n"
            "  KexAlgorithms curve25519-sha256\n"
            "  ConnectTimeout 10\n"
            "  ServerAliveInterval 5\n"
            "  ServerAliveCountMax 3\n"
        )

    @property
    def repo(self) -> Path:
        """The local apt repository."""
        return self.dir / "repo"

    def state(self) -> dict[str, Any]:
        """What `up` recorded; empty when the lab is not up."""
        path = self.dir / "state.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def _save(self, state: dict[str, Any]) -> None:
        path = self.dir / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
        tmp.replace(path)

    def up(self, plan: Plan, nodes: int | None = None) -> dict[str, Any]:
        """Build the repository and start one host per planned node (or the first `nodes`)."""
        others = [ns for ns in netns_list() if ns.startswith(NETNS_PREFIX)]
        if others:
            raise LabError(
                f"a lab is already up ({len(others)} namespaces); run `bringup lab down` first"
            )
        layout = lab_layout(plan, nodes)
        self.dir.mkdir(parents=True, exist_ok=True)
        public = self._keypair()
        build_repository(self.repo)
        for bridge in layout.bridges:
            ip("link", "add", bridge, "type", "bridge")
            ip("link", "set", bridge, "up")
        for bridge, address in layout.gateways:
            ip("addr", "add", str(address), "dev", bridge)
        by_name = {n.name: n for n in plan.nodes}
        started = time.monotonic()
        records = []
        host_keys = []
        for node in layout.nodes:
            profile = node_profile(plan, by_name[node.name])
            host_key = hosts.prepare_root(self.dir, node, layout, profile, public)
            hosts.create_netns(node)
            anchor = hosts.boot(self.dir, self.repo, node, self.dir / "lab.log")
            host_keys.append(f"{node.name},{node.management.ip} ssh-ed25519 {host_key}\n")
            records.append(_record(node, anchor))
        self.known_hosts.write_text("".join(host_keys))
        self.ssh_config.write_text(self._ssh_config())
        # what Ansible runs against this lab add to the inventory (read by bringup provision)
        (self.dir / "extra_vars.json").write_text(json.dumps(lab_extra_vars(), indent=1) + "\n")
        state = {
            "stack": self.stack,
            "nodes": records,
            "bridges": list(layout.bridges),
            "gateways": [[b, str(a)] for b, a in layout.gateways],
            "faults": [],
            "seconds": round(time.monotonic() - started, 2),
        }
        self._save(state)
        return state

    def _keypair(self) -> str:
        self.key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not self.key.exists():
            run(
                [
                    "ssh-keygen",
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    f"bringup-lab-{self.stack}",
                    "-f",
                    str(self.key),
                ]
            )
        return self.key.with_suffix(".pub").read_text()

    def down(self) -> list[str]:
        """Remove every lab namespace, process, veth and bridge; safe to repeat.

        Returns the namespaces and links it removed.
        """
        removed = []
        for ns in netns_list():
            if not ns.startswith(NETNS_PREFIX):
                continue
            kill(netns_pids(ns))
            for _ in range(100):
                if not netns_pids(ns):
                    break
                time.sleep(0.02)
            ip("netns", "delete", ns, check=False)
            removed.append(ns)
        for name in links(VETH_PREFIX) + links(BRIDGE_PREFIX):
            ip("link", "delete", name, check=False)
            removed.append(name)
        _reap()
        state_file = self.dir / "state.json"
        if state_file.exists():
            for record in self.state().get("nodes", []):
                kill([record["anchor"]])
                hosts.remove_node_files(self.dir, record["name"])
            state_file.unlink()
        return removed

    def status(self) -> list[dict[str, Any]]:
        """Per node: namespace, management address, anchor and sshd alive, injected faults."""
        state = self.state()
        faults: dict[str, list[str]] = {}
        for fault in state.get("faults", []):
            faults.setdefault(fault["node"], []).append(fault["description"])
        rows = []
        for record in state.get("nodes", []):
            up = alive(record["anchor"])
            rows.append(
                {
                    "node": record["name"],
                    "netns": record["netns"],
                    "management": record["management"],
                    "up": up,
                    "sshd": up and hosts.sshd_running(record["anchor"]),
                    "faults": faults.get(record["name"], []),
                }
            )
        return rows

    def fault(self, node: str, kind: str, options: Options) -> str:
        """Inject fault `kind` into `node`; recorded for `status`."""
        record = self.node_record(node)
        description = inject(record, kind, options)
        state = self.state()
        state["faults"].append({"node": node, "kind": kind, "description": description})
        self._save(state)
        return description

    def heal(self, node: str | None = None) -> list[str]:
        """Undo the faults of `node` (every node when None); returns the nodes healed."""
        state = self.state()
        names = [node] if node else sorted({f["node"] for f in state.get("faults", [])})
        for name in names:
            heal(self.node_record(name), hosts.node_dir(self.dir, name) / "profile.healthy.json")
        state["faults"] = [f for f in state.get("faults", []) if f["node"] not in names]
        self._save(state)
        return names

    def node_record(self, name: str) -> dict[str, Any]:
        """The recorded node called `name`; LabError names the known ones."""
        for record in self.state().get("nodes", []):
            if record["name"] == name:
                return dict(record)
        known = ", ".join(r["name"] for r in self.state().get("nodes", [])) or "none (lab is down)"
        raise LabError(f"no lab node {name!r}; lab nodes: {known}")


def _reap() -> None:
    """Collect the exit status of node processes this process started (no zombies left)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _record(node: Any, anchor: int) -> dict[str, Any]:
    return {
        "name": node.name,
        "netns": node.netns,
        "management": str(node.management.ip),
        "anchor": anchor,
        "nics": [
            {"netdev": n.netdev, "host_end": n.host_end, "bridge": n.bridge, "cable": n.cable,
             "address": str(n.address), "role": n.role}
            for n in node.nics
        ],
    }  # fmt: skip
