"""The component tree: Cluster > FabricPlane, Rack > NVLinkDomain, StorageSystem, artifacts.

Granularity is per rack (and per fabric plane), never per GPU or cable, so a 100k-GPU stack
stays in the low thousands of resources. Each component takes a typed Args, gives every child
``parent=self`` and a name ``f"{name}-<role>"``, and registers its outputs once, last.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi

from bringup.infra.admission import Admission
from bringup.infra.files import RenderedFiles
from bringup.infra.provisioning import Provisioning, text_hash, tree_hash
from bringup.plan import Plan, expected_state
from bringup.plan.bom import plane_counts
from bringup.plan.fabric import FabricPlan
from bringup.plan.model import NvlinkDomain as PlannedDomain
from bringup.plan.model import RackPlan
from bringup.render import inventory_dir, render_cluster_files, render_rack_files
from bringup.spec import StorageSystem as StorageSpec

TOKEN = "bringup:index"
REPOSITORY = Path(__file__).resolve().parents[2]  # roles/ and playbooks/ live here
PLAYBOOK = "playbooks/provision.yml"

# Cluster-wide files, one resource each so that a preview names which of them change.
CLUSTER_FILES = {
    "hosts": ("hosts.yml",),
    "group-vars": ("group_vars/",),
    "cabling": ("cabling.csv",),
    "topology": ("topology.conf",),
    "bom": ("bom.json",),
}


@dataclass(frozen=True)
class FabricPlaneArgs:
    """One plane of one fabric."""

    fabric: FabricPlan
    """The planned fabric."""
    plane: int
    """Plane number, 1-based."""


class FabricPlane(pulumi.ComponentResource):
    """A fabric plane: its tiers and switch and cable counts, as outputs."""

    def __init__(
        self, name: str, args: FabricPlaneArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__(f"{TOKEN}:FabricPlane", name, None, opts)
        self.counts = {
            "fabric": args.fabric.name,
            "plane": args.plane,
            "switch": args.fabric.switch.id,
            **plane_counts(args.fabric, args.plane).as_dict(),
        }
        self.register_outputs(self.counts)


@dataclass(frozen=True)
class NVLinkDomainArgs:
    """One rack-scale NVLink (and IMEX) domain."""

    domain: PlannedDomain
    """The planned domain."""


class NVLinkDomain(pulumi.ComponentResource):
    """A rack-scale NVLink domain: its trays, GPUs and switch trays."""

    def __init__(
        self, name: str, args: NVLinkDomainArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__(f"{TOKEN}:NVLinkDomain", name, None, opts)
        d = args.domain
        self.register_outputs(
            {
                "domain": d.name,
                "nodes": list(d.nodes),
                "gpus": d.gpus,
                "switch_trays": list(d.switch_trays),
                "imex": d.imex,
            }
        )


@dataclass(frozen=True)
class Provision:
    """What a rack's Provisioning resource needs beyond the rack itself."""

    roles_hash: str
    """Hash of roles/ and playbooks/: a change there converges every rack again."""
    shared: tuple[str, ...]
    """Cluster-wide rendered texts the rack's nodes read (group_vars of all and its SKU)."""
    after: tuple[pulumi.Resource, ...]
    """The cluster-wide file resources (inventory) the run reads."""


@dataclass(frozen=True)
class AdmitSettings:
    """How the racks' Admission resources judge their nodes."""

    policy: str = "unit"
    """NVLink domain policy: 'unit' or 'quorum:N'."""
    dcgm_level: int = 1
    """DCGM diagnostic level of the burn-in."""
    suite_hash: str = ""
    """Hash of the validation suite: a change there judges every rack again."""


@dataclass(frozen=True)
class RackArgs:
    """One rack of the plan, and where its files go."""

    plan: Plan
    """The whole plan (the rack's nodes read their peers and cables from it)."""
    rack: RackPlan
    """The planned rack."""
    nodes: tuple[str, ...]
    """Names of the rack's nodes."""
    domains: tuple[PlannedDomain, ...]
    """Its NVLink domains that span several nodes (NVL72)."""
    stack: str
    """Stack name: names the inventory folder."""
    provision: Provision | None = None
    """Converge the rack's nodes after its files are written; None renders only."""
    admit: AdmitSettings | None = None
    """Judge the rack's nodes after they converge (needs `provision`); None does not."""


class Rack(pulumi.ComponentResource):
    """A rack: its nodes' host_vars, and its NVLink domains when they span the rack."""

    def __init__(self, name: str, args: RackArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"{TOKEN}:Rack", name, None, opts)
        rack = args.rack
        child = pulumi.ResourceOptions(parent=self)
        files = render_rack_files(args.plan, args.stack, rack.name)
        host_vars = RenderedFiles(
            f"{name}-host-vars",
            inventory_dir(args.stack),
            files,
            identity=f"{rack.name}:{rack.sku}",
            opts=child,
        )
        self.provisioning: Provisioning | None = None
        if args.provision is not None:
            texts = [files[k] for k in sorted(files)] + list(args.provision.shared)
            self.provisioning = Provisioning(
                f"{name}-provisioning",
                {
                    "stack": args.stack,
                    "rack": rack.name,
                    "hosts": list(args.nodes),
                    "inventory": f"{inventory_dir(args.stack)}/hosts.yml",
                    "playbook": PLAYBOOK,
                    "vars_hash": text_hash(texts),
                    "roles_hash": args.provision.roles_hash,
                },
                pulumi.ResourceOptions(parent=self, depends_on=[host_vars, *args.provision.after]),
            )
        self.admission: Admission | None = None
        if args.admit is not None and self.provisioning is not None:
            self.admission = _admission(name, args, self.provisioning, self)
        for domain in args.domains:
            suffix = domain.name.removeprefix(rack.name + "-")
            NVLinkDomain(f"{name}-{suffix}", NVLinkDomainArgs(domain), child)
        self.register_outputs(
            {"rack": rack.name, "sku": rack.sku, "su": rack.su, "nodes": list(args.nodes)}
        )


@dataclass(frozen=True)
class StorageSystemArgs:
    """One declared storage system."""

    storage: StorageSpec
    """The spec's storage system."""
    clients: int
    """Nodes that mount it."""


class StorageSystem(pulumi.ComponentResource):
    """A shared file system and the number of nodes that mount it."""

    def __init__(
        self, name: str, args: StorageSystemArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__(f"{TOKEN}:StorageSystem", name, None, opts)
        s = args.storage
        self.register_outputs(
            {
                "kind": s.kind.value,
                "export": s.export,
                "mount": s.mount,
                "fabric": s.fabric,
                "clients": args.clients,
            }
        )


@dataclass(frozen=True)
class ClusterArgs:
    """A planned cluster and the stack it is deployed as."""

    plan: Plan
    """The plan every child reads."""
    stack: str
    """Stack name: names the inventory folder."""
    provision: bool = False
    """Also converge every rack with the provision playbook (Provisioning resources)."""
    admit: AdmitSettings | None = None
    """Also judge every rack after it converges (Admission resources; implies provision)."""


class Cluster(pulumi.ComponentResource):
    """The root: fabric planes, racks, storage systems and the cluster-wide files."""

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"{TOKEN}:Cluster", name, None, opts)
        plan = args.plan
        child = pulumi.ResourceOptions(parent=self)
        planes = [
            FabricPlane(f"{name}-{fp.name}-p{p}", FabricPlaneArgs(fp, p), child)
            for fp in plan.fabrics
            for p in fp.planes
        ]
        nodes: dict[str, list[str]] = defaultdict(list)
        for node in plan.nodes:
            nodes[node.rack].append(node.name)
        domains: dict[str, list[PlannedDomain]] = defaultdict(list)
        for domain in plan.domains:
            if len(domain.nodes) > 1:
                domains[domain.rack].append(domain)
        rendered = render_cluster_files(plan, args.stack)
        folder = inventory_dir(args.stack)
        cluster_files = {
            role: RenderedFiles(
                f"{name}-{role}",
                folder,
                {rel: text for rel, text in rendered.items() if rel.startswith(prefixes)},
                identity=args.stack,
                opts=child,
            )
            for role, prefixes in CLUSTER_FILES.items()
        }
        provision_all = args.provision or args.admit is not None
        roles = tree_hash(REPOSITORY, ("roles", "playbooks")) if provision_all else ""
        after = (cluster_files["hosts"], cluster_files["group-vars"])
        results: list[pulumi.Output[dict[str, Any]]] = []
        admitted: list[pulumi.Output[dict[str, Any]]] = []
        verdicts: dict[str, pulumi.Output[dict[str, Any]]] = {}
        for rack in plan.racks:
            provision = None
            if provision_all:
                shared = (
                    rendered["group_vars/all.yml"],
                    rendered[f"group_vars/sku-{rack.sku}.yml"],
                )
                provision = Provision(roles, shared, after)
            rack_args = RackArgs(
                plan,
                rack,
                tuple(nodes[rack.name]),
                tuple(domains[rack.name]),
                args.stack,
                provision,
                args.admit,
            )
            component = Rack(f"{name}-{rack.name}", rack_args, child)
            if component.provisioning is not None:
                results.append(component.provisioning.results)
            if component.admission is not None:
                admitted.append(component.admission.capacity)
                verdicts[rack.name] = component.admission.verdicts
        for store in plan.cluster.storage:
            clients = sum(
                1
                for n in plan.nodes
                if store.fabric is None or n.name in plan.fabric(store.fabric).by_name
            )
            StorageSystem(f"{name}-{store.name}", StorageSystemArgs(store, clients), child)
        self.nodes = len(plan.nodes)
        self.gpus = plan.gpus
        self.switches = {
            f"{p.counts['fabric']}-p{p.counts['plane']}": {
                tier: p.counts[tier] for tier in ("leaf", "spine", "core")
            }
            for p in planes
        }
        self.inventory = f"{folder}/hosts.yml"
        self.provisioned = pulumi.Output.all(*results).apply(_merge) if results else None
        """Per-host provisioning results of every rack (when provisioning)."""
        self.admitted = pulumi.Output.all(*admitted).apply(_capacity) if admitted else None
        """Admitted nodes and GPUs per SKU (when admitting)."""
        self.verdicts = verdicts
        """Each rack's admission verdicts (when admitting)."""
        self.register_outputs(
            {
                "nodes": self.nodes,
                "gpus": self.gpus,
                "switches": self.switches,
                "inventory": self.inventory,
            }
        )


def _admission(name: str, args: RackArgs, after: Provisioning, parent: Rack) -> Admission:
    assert args.admit is not None
    plan = args.plan
    mine = [n for n in plan.nodes if n.rack == args.rack.name]
    gpus = {n.name: gpu_count(expected_state(plan, n)) for n in mine}
    skus = {n.name: n.sku for n in mine}
    return Admission(
        f"{name}-admission",
        {
            "stack": args.stack,
            "rack": args.rack.name,
            "hosts": list(args.nodes),
            "inventory": f"{inventory_dir(args.stack)}/hosts.yml",
            "domains": {d.name: list(d.nodes) for d in args.domains},
            "policy": args.admit.policy,
            "dcgm_level": args.admit.dcgm_level,
            "node_skus": {n: skus[n] for n in args.nodes},
            "node_gpus": {n: gpus[n] for n in args.nodes},
            "provisioned_hash": after.results.apply(
                lambda r: text_hash([json.dumps(r, sort_keys=True)])
            ),
            "suite_hash": args.admit.suite_hash,
        },
        pulumi.ResourceOptions(parent=parent, depends_on=[after]),
    )


def gpu_count(expected: dict[str, Any]) -> int:
    """GPUs of a node from its expected state (none on a CPU node)."""
    return int((expected.get("gpu") or {}).get("count", 0))


def _capacity(results: list[dict[str, Any] | None]) -> dict[str, dict[str, int]]:
    """Admitted nodes and GPUs per SKU, summed over the racks' Admission outputs."""
    total: dict[str, dict[str, int]] = {}
    for rack in results:
        for sku, row in (rack or {}).items():
            into = total.setdefault(sku, {"nodes": 0, "gpus": 0})
            into["nodes"] += row["nodes"]
            into["gpus"] += row["gpus"]
    return dict(sorted(total.items()))


def _merge(results: list[dict[str, Any] | None]) -> dict[str, Any]:
    """One {host: result} map from the racks' Provisioning outputs."""
    merged: dict[str, Any] = {}
    for rack in results:
        merged.update(rack or {})
    return dict(sorted(merged.items()))
