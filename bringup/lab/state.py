"""What the lab records in ``.lab/<stack>/state.json``, and what `status` shows of it.

TypedDicts: the records are the JSON on disk, read and written as they are; the types hold
`up`, `status`, `fault`, `heal` and the fault kinds to one shape.

>>> sorted(NodeRecord.__required_keys__)
['anchor', 'management', 'name', 'netns', 'nics']
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class NicRecord(TypedDict):
    """One NIC of a node: the node end (`netdev`) and the host end of its veth, its bridge."""

    netdev: str
    host_end: str
    bridge: str
    cable: str
    address: str
    """With its prefix, e.g. ``10.0.0.5/24``."""
    role: str


class NodeRecord(TypedDict):
    """One running node: its namespace, management address and anchor process."""

    name: str
    netns: str
    management: str
    anchor: int
    """The process holding the node's mount and UTS namespaces, chrooted into its root."""
    nics: list[NicRecord]


class FaultRecord(TypedDict):
    """A fault injected into a node and not healed yet."""

    node: str
    kind: str
    description: str


class LabState(TypedDict):
    """Everything `up` made, and the faults injected since."""

    stack: str
    nodes: list[NodeRecord]
    bridges: list[str]
    gateways: list[list[str]]
    """[bridge, address with prefix] the host holds on each in-band bridge."""
    faults: list[FaultRecord]
    seconds: float
    """How long `up` took to start the nodes."""
    slurm: NotRequired[dict[str, int]]
    """The pids of the lab's munged, slurmctld and `bringup watch` on the host (a Slurm stack's
    lab)."""
    kubernetes: NotRequired[dict[str, int]]
    """The pids of the lab's etcd and kube-apiserver on this host (a Kubernetes stack's lab)."""
    watch_url: NotRequired[str]
    """Where the nodes' health checks report: the lab's `bringup watch`, at the gateway."""


class NodeStatus(TypedDict):
    """One row of `bringup lab status`."""

    node: str
    netns: str
    management: str
    up: bool
    sshd: bool
    faults: list[str]


def down_state(stack: str) -> LabState:
    """The state of a lab that is not up: no nodes, no faults."""
    return {
        "stack": stack,
        "nodes": [],
        "bridges": [],
        "gateways": [],
        "faults": [],
        "seconds": 0.0,
    }
