"""The component tree: Cluster > FabricPlane, Rack > NVLinkDomain, StorageSystem, artifacts.

Granularity is per rack (and per fabric plane), never per GPU or cable, so a 100k-GPU stack
stays in the low thousands of resources. Each component takes a typed Args, gives every child
``parent=self`` and a name ``f"{name}-<role>"``, and registers its outputs once, last.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi

from bringup.access import Access
from bringup.infra.admission import Admission, AdmissionInputs
from bringup.infra.files import RenderedFiles
from bringup.infra.inputs import Props
from bringup.infra.munge import MungeKey
from bringup.infra.provisioning import STALE, Provisioning, ProvisioningInputs, text_hash
from bringup.plan import Plan
from bringup.plan.bom import plane_counts
from bringup.plan.fabric import FabricPlan
from bringup.plan.model import NvlinkDomain as PlannedDomain
from bringup.plan.model import RackPlan
from bringup.provision.markers import Record, stale
from bringup.render import render_cluster_files, render_rack_files
from bringup.spec import StorageSystem as StorageSpec
from bringup.workspace import StackPaths

TOKEN = "bringup:index"
PLAYBOOK = "playbooks/provision.yml"

# Cluster-wide files, one resource each so that a preview names which of them change.
CLUSTER_FILES = {
    "hosts": ("hosts.yml",),
    "group-vars": ("group_vars/",),
    "cabling": ("cabling.csv",),
    "topology": ("topology.conf",),
    "bom": ("bom.json",),
    "slurm": ("slurm/",),  # a Slurm cluster's configuration; none for Kubernetes
    "kubernetes": ("kubernetes/",),  # a Kubernetes cluster's Kueue Topology, where it has Kueue
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
    records: Mapping[str, Record] | None = None
    """What each node records it was converged to, read before the run; None: not read."""


@dataclass(frozen=True)
class AdmitSettings:
    """How the racks' Admission resources judge their nodes."""

    policy: str = "unit"
    """NVLink domain policy: 'unit' or 'quorum:N'."""
    dcgm_level: int = 1
    """DCGM diagnostic level of the burn-in."""
    suite_hash: str = ""
    """Hash of the validation suite: a change there judges every rack again."""
    repairs: Mapping[str, str] = field(default_factory=dict)
    """Node -> its latest repair mark in the ledger: a new mark judges its rack again."""
    states: Mapping[str, str] = field(default_factory=dict)
    """Node -> its state in the ledger now: a verdict the ledger no longer holds (a node judged
    since by another run, or a ledger that lost it) judges its rack again."""


@dataclass(frozen=True)
class Deployment:
    """Where a stack's resources go and how its nodes are reached."""

    stack: StackPaths
    """The stack's paths: its name, its inventory folder, the blob store."""
    access: Access = field(default_factory=Access)
    """How Provisioning and Admission reach the nodes."""


@dataclass(frozen=True)
class RackArgs:
    """One rack of the plan, and what to do with it."""

    plan: Plan
    """The whole plan (the rack's nodes read their peers and cables from it)."""
    rack: RackPlan
    """The planned rack."""
    deployment: Deployment
    """The stack it belongs to."""
    provision: Provision | None = None
    """Converge the rack's nodes after its files are written; None renders only."""
    admit: AdmitSettings | None = None
    """Judge the rack's nodes after they converge (needs `provision`); None does not."""


class Rack(pulumi.ComponentResource):
    """A rack: its nodes' host_vars, and its NVLink domains when they span the rack."""

    def __init__(self, name: str, args: RackArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"{TOKEN}:Rack", name, None, opts)
        self.declared: list[pulumi.Resource] = [self]
        """This rack and every resource under it."""
        rack, stack = args.rack, args.deployment.stack
        nodes = [n.name for n in args.plan.nodes_in(rack.name)]
        child = pulumi.ResourceOptions(parent=self)
        files = render_rack_files(args.plan, stack.name, rack.name)
        host_vars = RenderedFiles(
            f"{name}-host-vars",
            stack.inventory_dir,
            files,
            identity=f"{rack.name}:{rack.sku}",
            stack=stack,
            opts=child,
        )
        self.declared.append(host_vars)
        self.provisioning: Provisioning | None = None
        if args.provision is not None:
            texts = [files[k] for k in sorted(files)] + list(args.provision.shared)
            inputs = ProvisioningInputs(
                stack=stack.name,
                rack=rack.name,
                hosts=tuple(nodes),
                inventory=f"{stack.inventory_dir}/hosts.yml",
                playbook=PLAYBOOK,
                vars_hash=text_hash(texts),
                roles_hash=args.provision.roles_hash,
            )
            if args.provision.records is not None:
                found = stale(args.provision.records, dict.fromkeys(nodes, inputs.marker))
                inputs = inputs.model_copy(update={"stale": found})
                if found:
                    STALE[f"{name}-provisioning"] = found
            self.provisioning = Provisioning(
                f"{name}-provisioning",
                inputs,
                args.deployment.access,
                pulumi.ResourceOptions(parent=self, depends_on=[host_vars, *args.provision.after]),
            )
            self.declared.append(self.provisioning)
        self.admission: Admission | None = None
        if args.admit is not None and self.provisioning is not None:
            self.admission = _admission(name, args, tuple(nodes), self.provisioning, self)
            self.declared.append(self.admission)
        for domain in args.plan.shared_domains_in(rack.name):
            suffix = domain.name.removeprefix(rack.name + "-")
            self.declared.append(NVLinkDomain(f"{name}-{suffix}", NVLinkDomainArgs(domain), child))
        self.register_outputs({"rack": rack.name, "sku": rack.sku, "su": rack.su, "nodes": nodes})


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
    deployment: Deployment
    """The stack's paths and how its nodes are reached."""
    provision: bool = False
    """Also converge every rack with the provision playbook (Provisioning resources)."""
    admit: AdmitSettings | None = None
    """Also judge every rack after it converges (Admission resources; implies provision)."""
    records: Mapping[str, Record] | None = None
    """What each node records it was converged to (bringup.provision.markers), read before
    the run; None when not read."""
    munge_key: pulumi.Output[str] | None = None
    """The cluster's MUNGE key (base64, a secret of the stack's config): a MungeKey resource
    writes it to the stack's key file; None declares none."""


class Cluster(pulumi.ComponentResource):
    """The root: fabric planes, racks, storage systems and the cluster-wide files."""

    def __init__(self, name: str, args: ClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"{TOKEN}:Cluster", name, None, opts)
        plan, stack = args.plan, args.deployment.stack
        child = pulumi.ResourceOptions(parent=self)
        self.declared: list[pulumi.Resource] = [self]
        """The cluster and every resource under it, in the order declared."""
        planes = [
            FabricPlane(f"{name}-{fp.name}-p{p}", FabricPlaneArgs(fp, p), child)
            for fp in plan.fabrics
            for p in fp.planes
        ]
        rendered = render_cluster_files(plan, stack.name)
        cluster_files = {
            role: RenderedFiles(
                f"{name}-{role}",
                stack.inventory_dir,
                files,
                identity=stack.name,
                stack=stack,
                opts=child,
            )
            for role, prefixes in CLUSTER_FILES.items()
            if (files := {rel: text for rel, text in rendered.items() if rel.startswith(prefixes)})
        }
        self.declared += [*planes, *cluster_files.values()]
        provision_all = args.provision or args.admit is not None
        roles = stack.workspace.digest("roles", "playbooks") if provision_all else ""
        after = (cluster_files["hosts"], cluster_files["group-vars"])
        results: list[pulumi.Output[Props]] = []
        verdicts: dict[str, pulumi.Output[Props]] = {}
        for rack in plan.racks:
            provision = None
            if provision_all:
                shared = (
                    rendered["group_vars/all.yml"],
                    rendered[f"group_vars/sku-{rack.sku}.yml"],
                )
                provision = Provision(roles, shared, after, args.records)
            rack_args = RackArgs(plan, rack, args.deployment, provision, args.admit)
            component = Rack(f"{name}-{rack.name}", rack_args, child)
            self.declared += component.declared
            if component.provisioning is not None:
                results.append(component.provisioning.results)
            if component.admission is not None:
                verdicts[rack.name] = component.admission.verdicts
        for store in plan.cluster.storage:
            clients = len(plan.clients_of(store.name))
            self.declared.append(
                StorageSystem(f"{name}-{store.name}", StorageSystemArgs(store, clients), child)
            )
        self.munge_key: str | None = None
        """The key file, relative to the project (when the stack has a key)."""
        if args.munge_key is not None:
            self.declared.append(
                MungeKey(f"{name}-munge-key", stack.munge_key_file, args.munge_key, child)
            )
            self.munge_key = stack.munge_key_file
        self.nodes = len(plan.nodes)
        self.gpus = plan.gpus
        self.switches = {
            f"{p.counts['fabric']}-p{p.counts['plane']}": {
                tier: p.counts[tier] for tier in ("leaf", "spine", "core")
            }
            for p in planes
        }
        self.inventory = f"{stack.inventory_dir}/hosts.yml"
        self.provisioned = pulumi.Output.all(*results).apply(_merge) if results else None
        """Per-host provisioning results of every rack (when provisioning)."""
        self.admitted = (
            pulumi.Output.all(*verdicts.values()).apply(
                lambda racks: plan.capacity(n for r in racks for n in (r or {}).get("admitted", []))
            )
            if verdicts
            else None
        )
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


def _admission(
    name: str, args: RackArgs, nodes: tuple[str, ...], after: Provisioning, parent: Rack
) -> Admission:
    assert args.admit is not None
    stack = args.deployment.stack
    inputs = AdmissionInputs(
        stack=stack.name,
        rack=args.rack.name,
        hosts=nodes,
        inventory=f"{stack.inventory_dir}/hosts.yml",
        domains={d.name: d.nodes for d in args.plan.shared_domains_in(args.rack.name)},
        policy=args.admit.policy,
        dcgm_level=args.admit.dcgm_level,
        suite_hash=args.admit.suite_hash,
        repairs={n: args.admit.repairs[n] for n in nodes if n in args.admit.repairs},
        states={n: args.admit.states.get(n, "unknown") for n in nodes},
    )
    provisioned = pulumi.Output.all(after.results, after.converged).apply(
        lambda done: text_hash([json.dumps(done, sort_keys=True)])
    )
    return Admission(
        f"{name}-admission",
        inputs,
        provisioned,
        args.deployment.access,
        pulumi.ResourceOptions(parent=parent, depends_on=[after]),
    )


def _merge(results: list[Props | None]) -> Props:
    """One {host: result} map from the racks' Provisioning outputs."""
    merged: Props = {}
    for rack in results:
        merged.update(rack or {})
    return dict(sorted(merged.items()))
