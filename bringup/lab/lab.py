"""`bringup lab up | down | status`: the embedded lab of a stack, on this host.

State lives in ``.lab/<stack>/`` of the project (git-ignored): the SSH key pair, known_hosts and
ssh_config, the package repository, each node's layers, and ``state.json``. `down` does not
trust the state: it removes every namespace, bridge and veth named with the lab's prefixes,
whatever made them.

The lab is where a lab stack's :class:`~bringup.access.Access` comes from (:meth:`Lab.access`):
its key, known_hosts and ssh_config, the overrides its playbook runs need, and its far-end view
of the cables. Nothing else in bringup knows where the lab keeps them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

from pydantic import JsonValue

from bringup.access import Access, SchedulerAccess
from bringup.lab import hosts
from bringup.lab.extra_vars import lab_extra_vars
from bringup.lab.faults import Options, heal, inject
from bringup.lab.kubernetes import LabKubernetes
from bringup.lab.layout import BRIDGE_PREFIX, NETNS_PREFIX, VETH_PREFIX, LabNode, lab_layout
from bringup.lab.packages import MUNGE_LAB, MUNGE_LAB_PACKAGE, build_repository
from bringup.lab.profile import node_profile
from bringup.lab.slurm import LabSlurm
from bringup.lab.state import LabState, NodeRecord, NodeStatus, down_state
from bringup.lab.system import LabError, alive, ip, kill, links, netns_list, netns_pids, run
from bringup.plan import Plan
from bringup.render.kubernetes import render_kubernetes_files
from bringup.spec import AccessSpec
from bringup.workspace import Workspace


@dataclass(frozen=True)
class Lab:
    """The lab of one stack, rooted at ``<project>/.lab/<stack>``."""

    workspace: Workspace
    stack: str

    def __post_init__(self) -> None:
        self.workspace.stack(self.stack)  # a plain name: it names the lab's folder

    @property
    def dir(self) -> Path:
        """The lab's folder."""
        return self.workspace.root / ".lab" / self.stack

    def access(self) -> Access:
        """How bringup reaches this lab's nodes: its key, known_hosts, ssh_config, the overrides
        of its playbook runs and its far-end view of the cables."""
        return Access(
            source="lab",
            user="root",
            private_key=self.key.absolute(),
            known_hosts=self.known_hosts.absolute(),
            ssh_config=self.ssh_config.absolute(),
            extra_vars=lab_extra_vars() | self._slurm_vars(),
            far_end="lab",
            scheduler=self._scheduler(),
            node_python=self._node_python(),
        )

    def _node_python(self) -> list[str]:
        """bringup's Python as a lab node runs it: the node's own python3 with this checkout and
        its environment's packages on the path (the node sees both through its overlay; not the
        interpreter of the environment, which may live under root's home, hidden from nodes)."""
        packages = sysconfig.get_paths()["purelib"]
        path = f"PYTHONPATH={self.workspace.repository}:{packages}"
        return ["/usr/bin/env", path, "/usr/bin/python3"]

    def _scheduler(self) -> SchedulerAccess:
        """The lab's Slurm controller or Kubernetes API server, while one runs (the lab of a
        stack of that scheduler, up)."""
        try:
            state = self.state()
        except LabError:
            return SchedulerAccess()
        if "slurm" in state:
            return SchedulerAccess.slurm(self.slurm.conf.absolute(), self.workspace.slurm)
        if "kubernetes" in state:
            return SchedulerAccess.kubernetes(self.kubeconfig.absolute(), "bringup")
        return SchedulerAccess()

    def _slurm_vars(self) -> dict[str, JsonValue]:
        """The slurm_node role's lab overrides: the lab's configuration and MUNGE key (as files
        on this host; the key never becomes a variable's value)."""
        slurm = self.slurm
        try:
            url = self.state().get("watch_url")
        except LabError:
            url = None
        return {
            "slurm_node_config_dir": str(slurm.dir.absolute()),
            "slurm_node_munge_key_file": str(slurm.munge_key.absolute()),
            "slurm_node_munge_package": MUNGE_LAB_PACKAGE,
            "slurm_node_munge_service": MUNGE_LAB.service,
            "slurm_node_health_program": shlex.join([*self._node_python(), "-m", "bringup"]),
            **({"slurm_node_health_report_url": url} if url else {}),
        }

    @property
    def shared(self) -> Path:
        """The lab's shared folder: every node's /srv/bringup-lab/shared (hosts.SHARED_MOUNT)."""
        return self.dir / "shared"

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

    @property
    def slurm(self) -> LabSlurm:
        """The lab's Slurm controller and its files (``.lab/<stack>/slurm``)."""
        return LabSlurm(self.dir / "slurm", self.workspace.slurm)

    @property
    def kubernetes(self) -> LabKubernetes:
        """The lab's Kubernetes control plane and its files (``.lab/<stack>/kubernetes``)."""
        return LabKubernetes(self.dir / "kubernetes", self.kubeconfig, self.workspace.kubernetes)

    @property
    def kubeconfig(self) -> Path:
        """The kubeconfig of a Kubernetes stack's lab: contexts ``bringup`` and ``operator``."""
        return self.dir / "kubeconfig"

    def state(self) -> LabState:
        """What `up` recorded; no nodes when the lab is not up."""
        path = self.dir / "state.json"
        if not path.exists():
            return down_state(self.stack)
        try:
            data: object = json.loads(path.read_text())
        except ValueError as error:
            raise LabError(f"{path}: not JSON ({error}); `bringup lab down` removes it") from None
        if not _is_state(data):
            raise LabError(
                f"{path}: not what `bringup lab up` writes; `bringup lab down` removes it"
            )
        return data

    def _save(self, state: LabState) -> None:
        path = self.dir / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=1, sort_keys=True) + "\n")
        tmp.replace(path)

    def up(self, plan: Plan, nodes: int | None = None) -> LabState:
        """Build the repository and start one host per planned node (or the first `nodes`)."""
        others = [ns for ns in netns_list() if ns.startswith(NETNS_PREFIX)]
        if others:
            raise LabError(
                f"a lab is already up ({len(others)} namespaces); run `bringup lab down` first"
            )
        layout = lab_layout(plan, nodes)
        runs_slurm = plan.cluster.scheduler.kind == "slurm"
        if runs_slurm and not self.workspace.slurm.built():
            raise LabError(
                f"stack {self.stack!r} runs Slurm, which is not built: run scripts/build-slurm "
                "(`make setup` does)"
            )
        runs_kubernetes = plan.cluster.scheduler.kind == "kubernetes"
        if runs_kubernetes and not self.workspace.kubernetes.built():
            raise LabError(
                f"stack {self.stack!r} runs Kubernetes, which is not built: run "
                "scripts/build-kubernetes (`make setup` does)"
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        self.shared.mkdir(mode=0o1777, exist_ok=True)
        public = self._keypair()
        build_repository(self.repo, self.workspace.slurm if runs_slurm else None)
        for bridge in layout.bridges:
            ip("link", "add", bridge, "type", "bridge")
            ip("link", "set", bridge, "up")
        for bridge, address in layout.gateways:
            ip("addr", "add", str(address), "dev", bridge)
        by_name = {n.name: n for n in plan.nodes}
        started = time.monotonic()
        records: list[NodeRecord] = []
        host_keys = []
        for node in layout.nodes:
            profile = node_profile(plan, by_name[node.name])
            host_key = hosts.prepare_root(self.dir, node, layout, profile, public)
            hosts.create_netns(node)
            anchor = hosts.boot(
                self.dir,
                self.repo,
                node,
                self.dir / "lab.log",
                gpus=len(profile["gpus"]),
                slurm_plugins=self.workspace.slurm.plugin_dir if runs_slurm else None,
                project=self.workspace.repository.absolute(),
                shared=self.shared,
            )
            host_keys.append(f"{node.name},{node.management.ip} ssh-ed25519 {host_key}\n")
            records.append(_record(node, anchor))
        self.known_hosts.write_text("".join(host_keys))
        self.ssh_config.write_text(self._ssh_config())
        state: LabState = {
            "stack": self.stack,
            "nodes": records,
            "bridges": list(layout.bridges),
            "gateways": [[b, str(a)] for b, a in layout.gateways],
            "faults": [],
            "seconds": round(time.monotonic() - started, 2),
        }
        self._save(state)
        if runs_slurm:
            site = self.slurm.configure(plan, layout)
            state["slurm"] = self.slurm.start(site)
            self._save(state)
            controller, port = site.controller_address or "127.0.0.1", plan.cluster.health.port
            ws = self.workspace
            stacks = ws.stacks if ws.stack_file(self.stack).exists() else ws.repository / "stacks"
            state["slurm"]["watch"] = self.slurm.start_watch(
                self.stack, ws.root, stacks, controller, port
            )
            state["watch_url"] = f"http://{controller}:{port}/v1/verdicts"
            self._save(state)
        if runs_kubernetes:
            state["kubernetes"] = self.kubernetes.start()
            self._save(state)
            self.kubernetes.register(plan, {r["name"]: r["management"] for r in records})
            kueue = render_kubernetes_files(plan, self.stack).get("topology.yaml")
            if kueue is not None:
                self.kubernetes.install_kueue(kueue)
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
        recorded: dict[str, int] = {}
        with contextlib.suppress(LabError):  # unreadable: the daemons are found by command line
            recorded = dict(self.state().get("slurm", {}))
        removed = [f"slurm:{pid}" for pid in self.slurm.stop(recorded)]
        removed += [f"kubernetes:{pid}" for pid in self.kubernetes.stop(every_lab=True)]
        self.kubernetes.forget()
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
            try:
                records = self.state()["nodes"]
            except LabError:  # unreadable: the sweep above stopped every node; its folders go
                records = []
                for folder in (self.dir / "nodes").glob("*"):
                    hosts.remove_node_files(self.dir, folder.name)
            for record in records:
                kill([record["anchor"]])  # in case its namespace was deleted under it
                hosts.remove_node_files(self.dir, record["name"])
            state_file.unlink()
        return removed

    def status(self) -> list[NodeStatus]:
        """Per node: namespace, management address, anchor and sshd alive, injected faults."""
        state = self.state()
        faults: dict[str, list[str]] = {}
        for fault in state["faults"]:
            faults.setdefault(fault["node"], []).append(fault["description"])
        rows: list[NodeStatus] = []
        for record in state["nodes"]:
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
        names = [node] if node else sorted({f["node"] for f in state["faults"]})
        for name in names:
            heal(self.node_record(name), hosts.node_dir(self.dir, name) / "profile.healthy.json")
        state["faults"] = [f for f in state["faults"] if f["node"] not in names]
        self._save(state)
        return names

    def node_record(self, name: str) -> NodeRecord:
        """The recorded node called `name`; LabError names the known ones."""
        nodes = self.state()["nodes"]
        for record in nodes:
            if record["name"] == name:
                return record
        known = ", ".join(r["name"] for r in nodes) or "none (lab is down)"
        raise LabError(f"no lab node {name!r}; lab nodes: {known}")


def lab_access(workspace: Workspace, stack: str, declared: AccessSpec) -> Access:
    """The Access of a stack declared ``access: {via: lab}`` (bringup.access.SOURCES)."""
    return Lab(workspace, stack).access()


def _reap() -> None:
    """Collect the exit status of node processes this process started (no zombies left)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _is_state(data: object) -> TypeGuard[LabState]:
    return isinstance(data, dict) and isinstance(data.get("nodes"), list)


def _record(node: LabNode, anchor: int) -> NodeRecord:
    return {
        "name": node.name,
        "netns": node.netns,
        "management": str(node.management.ip),
        "anchor": anchor,
        "nics": [
            {"netdev": n.netdev, "host_end": n.host_end, "bridge": n.bridge, "cable": n.cable,
             "address": str(n.address), "role": n.role.value}
            for n in node.nics
        ],
    }  # fmt: skip
