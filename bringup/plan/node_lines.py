"""plan.json's nodes, a line each, filled into templates that the expectation models dump.

A node's line is its :class:`NodeExpectation` as ``model_dump_json`` writes it, with its
Kubernetes labels added. Building that model for each of a 100k-GPU plan's 25,000 nodes and
200,000 NICs was three quarters of writing plan.json. Nodes of one SKU on the same fabrics
(what a rack group declares) differ only in what their place gives them: name, rack, position
and SU, addresses, cables and leaves, NVLink domain, labels. So the first such node's
expectation is built once, through :class:`Expectations`, with a mark in each of those values,
and dumped by the model's own serializer: that text, its marks made placeholders, is the
template, and every other field (whatever fields the models gain) is in it as the model writes
it. A node's line is the template filled with its values as JSON text. The NVLink domain in a
line is filled the same way, from a template per shape of domain.

A template must write the first and the last node (or domain) of its shape exactly as their
models dump them before it is used. One that does not (a value that differs from node to node
and that :meth:`NodeLines._values` does not fill) is refused, and the nodes of its shape are
dumped from their models, as correct and as slow as before. :attr:`NodeLines.refused` names
them; the unit test that compares every node of every example stack with its model's dump
requires it empty.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter

from pydantic import BaseModel
from pydantic_core import to_json

from bringup.catalog import Role
from bringup.plan.addressing import AddressLayout, dotted
from bringup.plan.cabling import LeafPorts, cable_runs
from bringup.plan.expectation import Expectations, NodeExpectation, NvlinkExpectation
from bringup.plan.fabric import FabricPlan
from bringup.plan.model import Node, NvlinkDomain
from bringup.plan.plan import Plan
from bringup.plan.scheduler import kubernetes_labels, leaf_group

# A mark is a text no planned value holds (names are DNS labels); the serializer escapes its
# NUL characters, which is how it is found in the dump, quotes and all.
_MARKED = re.compile(r'"\\u0000(\d+)\\u0000"')

_NodeKey = tuple[str, tuple[str, ...], bool]
"""The nodes one template serves: of a SKU, on the same fabrics, with an NVLink domain or not."""

_DomainKey = tuple[str, int, bool]
"""The NVLink domains one template serves: of a SKU, as many nodes, IMEX or not."""


class _Marks:
    """Hands out marks 0, 1, 2, … in the order the values are listed."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return f"\x00{self.count - 1}\x00"


@dataclass(frozen=True, slots=True)
class _Text:
    """A dump with a ``%s`` for each mark, and the order of the marks in it."""

    text: str
    order: Callable[[Sequence[str]], tuple[str, ...]]

    @classmethod
    def of(
        cls, marked: BaseModel, marks: _Marks, tail: str = "", tail_marks: int = 0
    ) -> _Text | None:
        """`marked` dumped, its marks made placeholders, and `tail` before its closing brace:
        placeholders of the last `tail_marks` marks handed out. None unless every other mark
        is in the dump once."""
        parts = _MARKED.split(marked.model_dump_json(warnings=False))
        literals = [part.replace("%", "%%") for part in parts[0::2]]
        order = [int(i) for i in parts[1::2]]
        dumped = marks.count - tail_marks
        if not order or sorted(order) != list(range(dumped)):
            return None
        order += range(dumped, marks.count)
        return cls("%s".join(literals)[:-1] + tail + "}", itemgetter(*order))

    def filled(self, values: Sequence[str]) -> str:
        """The text with `values` (JSON text, listed in mark order) in its placeholders."""
        return self.text % self.order(values)


class _Subnets:
    """The subnets of some rails of one fabric and plane: of each rail, its base address and
    its gateway as JSON, made once per SU."""

    def __init__(self, fp: FabricPlan, layout: AddressLayout, plane: int, rails: tuple[int, ...]):
        self.fabric = fp
        self.rails = rails
        self._layout = layout
        self._plane = plane
        self._by_su: dict[int, tuple[tuple[int, str], ...]] = {}

    def of(self, su: int) -> tuple[tuple[int, str], ...]:
        """(base address, gateway) of each rail in `su`."""
        subnets = self._by_su.get(su)
        if subnets is None:
            subnets = self._by_su[su] = tuple(self._subnet(rail, su) for rail in self.rails)
        return subnets

    def address(self, name: str) -> str:
        """The address of endpoint `name` on the first rail, as JSON."""
        e = self.fabric.by_name[name]
        return f'"{dotted(self.of(e.su)[0][0] + e.slot)}"'

    def _subnet(self, rail: int, su: int) -> tuple[int, str]:
        gateway = self._layout.gateway_text(self._plane, rail, su)
        base = self._layout.subnet_base(self._plane, rail, su)
        return base, f'"{gateway}"' if gateway else "null"


@dataclass(frozen=True, slots=True)
class _Rails:
    """The NICs of one fabric and plane in a template, in the order the expectation lists
    them."""

    ports: LeafPorts
    subnets: _Subnets


@dataclass(frozen=True, slots=True)
class _NodeTemplate:
    """The line of the nodes of one shape, and where their values come from."""

    text: _Text
    management: _Subnets | None
    nvlink: bool
    nics: tuple[_Rails, ...]
    bmc: _Subnets | None
    compute: FabricPlan | None


@dataclass(frozen=True, slots=True)
class _DomainTemplate:
    """The NVLink object of the domains of one shape, and their IMEX peers' addresses."""

    text: _Text
    peers: bool
    management: _Subnets | None


class NodeLines:
    """The lines of plan.json's nodes, in plan order: each one what the node's expectation
    dumps (``model_dump_json``), its Kubernetes labels added.

    >>> # out.writelines(f"{line},\\n" for line in NodeLines(plan))
    """

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.refused: list[str] = []
        """Templates that failed their check, by the first node or domain they were made
        for; their nodes are dumped from their models. Empty unless a value that differs
        from node to node is left out of the templates."""
        self._expectations = Expectations(plan)
        self._fabrics: dict[int, tuple[str, tuple[str, ...]]] = {}
        self._last: dict[_NodeKey, Node] = {self._key(node): node for node in plan.nodes}
        self._templates: dict[_NodeKey, _NodeTemplate | None] = {}
        self._last_domain = {_domain_key(d): d for d in plan.domains}
        self._domain_templates: dict[_DomainKey, _DomainTemplate | None] = {}
        self._domain: tuple[str, str] = ("", "")  # the last domain filled: nodes follow racks
        self._ports: dict[tuple[str, int], LeafPorts] = {}
        self._labels: dict[tuple[str, str | None, str | None], str] = {}
        self._bmcs: dict[str, dict[str, tuple[str, str, str]]] = {}

    def __iter__(self) -> Iterator[str]:
        return map(self.line, self.plan.nodes)

    def line(self, node: Node) -> str:
        """`node`'s line: its template filled, or where it has none, its model dumped."""
        key = self._key(node)
        if key not in self._templates:
            self._templates[key] = self._template(node, self._last[key])
        template = self._templates[key]
        return self.dumped(node) if template is None else self._filled(template, node)

    def dumped(self, node: Node) -> str:
        """`node`'s line the straightforward way: its expectation built and dumped by the
        model, its labels dumped and added before the closing brace."""
        state = self._expectations.of(node).model_dump_json()
        labels = to_json(kubernetes_labels(self.plan, node)).decode()
        return f'{state[:-1]},"kubernetes_labels":{labels}}}'

    def _key(self, node: Node) -> _NodeKey:
        shape = self._fabrics.get(node.group)
        if shape is None:
            fabrics = tuple(fp.name for fp in self.plan.fabrics if node.name in fp.by_name)
            shape = self._fabrics[node.group] = (node.sku, fabrics)
        return (*shape, node.nvlink_domain is None)

    def _template(self, first: Node, last: Node) -> _NodeTemplate | None:
        """The template of `first`'s shape, or None where it does not write `first` and
        `last` as their models do."""
        plan = self.plan
        expected = self._expectations.of(first)
        marks = _Marks()
        marked = _marked_node(expected, marks)
        marks()  # the labels', which the model does not hold
        text = _Text.of(marked, marks, ',"kubernetes_labels":%s', tail_marks=1)
        template = None
        if text is not None:
            compute = plan.fabric_for(first, Role.COMPUTE)
            inband = plan.fabric_for(first, Role.INBAND)
            oob = plan.fabric_for(first, Role.OOB)
            template = _NodeTemplate(
                text=text,
                management=self._subnets(inband, 1, (1,)) if expected.management_address else None,
                nvlink=expected.nvlink is not None,
                nics=tuple(self._rails(expected)),
                bmc=self._subnets(oob, 1, (1,)) if expected.bmc else None,
                compute=compute if compute and compute.tree else None,
            )
        checked = {first.name: first, last.name: last}.values()
        if template is None or any(
            self._filled(template, node) != self.dumped(node) for node in checked
        ):
            self.refused.append(f"nodes like {first.name}")
            return None
        return template

    def _filled(self, template: _NodeTemplate, node: Node) -> str:
        return template.text.filled(self._values(template, node))

    def _rails(self, expected: NodeExpectation) -> Iterator[_Rails]:
        for (fabric, plane), nics in groupby(expected.nics, key=lambda n: (n.fabric, n.plane)):
            fp = self.plan.fabric(fabric)
            if (fabric, plane) not in self._ports:
                self._ports[(fabric, plane)] = LeafPorts(fp, plane)
            rails = tuple(n.rail for n in nics)
            yield _Rails(self._ports[(fabric, plane)], self._subnets(fp, plane, rails))

    def _subnets(self, fp: FabricPlan | None, plane: int, rails: tuple[int, ...]) -> _Subnets:
        assert fp is not None  # the expectation has the value, so the node is on the fabric
        return _Subnets(fp, self.plan.layouts[fp.name], plane, rails)

    def _values(self, template: _NodeTemplate, node: Node) -> list[str]:
        """`node`'s values as JSON text, listed as :func:`_marked_node` marks them."""
        name = node.name
        p = node.position
        values = [f'"{name}"', f'"{node.rack}"', str(p.hall), str(p.row), str(p.rack)]
        values += (str(node.slot), str(node.su))
        if template.management is not None:
            values.append(template.management.address(name))
        if template.nvlink:
            values.append(self._nvlink(node))
        for nics in template.nics:
            e = nics.ports.fabric.by_name[name]
            slot = e.slot
            leaves, port = nics.ports.of(e)
            ports = nics.ports.ports(e)
            for rail, (base, gateway) in zip(
                nics.subnets.rails, nics.subnets.of(e.su), strict=True
            ):
                values += (
                    f'"{dotted(base + slot)}"', gateway, f'"{name}:{ports[rail - 1]}"',
                    f'"{leaves[rail - 1]}"', port,
                )  # fmt: skip
        if template.bmc is not None:
            cable, tor, tor_port = self._bmc(template.bmc.fabric)[name]
            values += (template.bmc.address(name), cable, tor, tor_port)
        values.append(self._labels_of(template, node))
        return values

    def _nvlink(self, node: Node) -> str:
        """`node`'s NVLink domain as JSON; made once for the nodes of a domain, which follow
        each other (nodes are in rack order)."""
        name = node.nvlink_domain
        assert name is not None
        if self._domain[0] != name:
            domain = self.plan.domain_by_name[name]
            key = _domain_key(domain)
            if key not in self._domain_templates:
                self._domain_templates[key] = self._domain_template(domain, self._last_domain[key])
            template = self._domain_templates[key]
            text = (
                self._dumped_nvlink(domain)
                if template is None
                else template.text.filled(_domain_values(template, domain))
            )
            self._domain = (name, text)
        return self._domain[1]

    def _dumped_nvlink(self, domain: NvlinkDomain) -> str:
        """The NVLink object of `domain` as its first node's expectation dumps it."""
        nvlink = self._expectations.of(self.plan.node(domain.nodes[0])).nvlink
        return nvlink.model_dump_json() if nvlink else "null"

    def _domain_template(self, first: NvlinkDomain, last: NvlinkDomain) -> _DomainTemplate | None:
        """The template of `first`'s shape of domain, or None where it does not write `first`
        and `last` as their first nodes' expectations do."""
        node = self.plan.node(first.nodes[0])
        expected = self._expectations.of(node)
        template = None
        if expected.nvlink is not None:
            marks = _Marks()
            text = _Text.of(_marked_nvlink(expected.nvlink, marks), marks)
            inband = self.plan.fabric_for(node, Role.INBAND)
            if text is not None:
                template = _DomainTemplate(
                    text=text,
                    peers=bool(expected.nvlink.imex_peers),
                    management=self._subnets(inband, 1, (1,))
                    if expected.management_address
                    else None,
                )
        checked = {first.name: first, last.name: last}.values()
        if template is None or any(
            template.text.filled(_domain_values(template, d)) != self._dumped_nvlink(d)
            for d in checked
        ):
            self.refused.append(f"NVLink domains like {first.name}")
            return None
        return template

    def _bmc(self, fp: FabricPlan) -> dict[str, tuple[str, str, str]]:
        """(cable id, ToR, ToR port) of every BMC on OOB fabric `fp`, as JSON text."""
        if fp.name not in self._bmcs:
            self._bmcs[fp.name] = {
                a: (f'"{a}:{ap}"', f'"{b}"', bp)
                for run in cable_runs(fp, 1)
                for _, a, ap, b, bp in run.ends()
            }
        return self._bmcs[fp.name]

    def _labels_of(self, template: _NodeTemplate, node: Node) -> str:
        """The node's labels as JSON, once per rack, NVLink domain and compute leaf group:
        what :func:`kubernetes_labels` reads of a node besides what its rack gives it."""
        group = None
        if template.compute is not None and template.compute.tree is not None:
            group = leaf_group(template.compute.tree, template.compute.by_name[node.name])
        key = (node.rack, node.nvlink_domain, group)
        labels = self._labels.get(key)
        if labels is None:
            labels = self._labels[key] = to_json(kubernetes_labels(self.plan, node)).decode()
        return labels


def _domain_key(domain: NvlinkDomain) -> _DomainKey:
    return domain.sku, len(domain.nodes), domain.imex


def _domain_values(template: _DomainTemplate, domain: NvlinkDomain) -> list[str]:
    """`domain`'s values as JSON text, listed as :func:`_marked_nvlink` marks them."""
    values = [f'"{domain.name}"', str(domain.gpus), to_json(domain.switch_trays).decode()]
    if template.peers:
        for peer in domain.nodes:
            address = template.management.address(peer) if template.management else "null"
            values += (f'"{peer}"', address)
    return values


def _marked_node(expected: NodeExpectation, mark: _Marks) -> NodeExpectation:
    """`expected` with a mark in place of each value that differs from node to node, in the
    order :meth:`NodeLines._values` lists them. A copy's values are not validated: a mark
    stands in an int field, and the serializer, warnings off, writes it as the string it is."""
    update: dict[str, object] = {"name": mark(), "rack": mark()}
    update["position"] = expected.position.model_copy(
        update={"hall": mark(), "row": mark(), "rack": mark(), "slot": mark()}
    )
    update["su"] = mark()
    if expected.management_address is not None:
        update["management_address"] = mark()
    if expected.nvlink is not None:
        update["nvlink"] = mark()
    update["nics"] = tuple(
        nic.model_copy(
            update={
                "address": mark(),
                "gateway": mark(),
                "cable": mark(),
                "leaf": mark(),
                "leaf_port": mark(),
            }
        )
        for nic in expected.nics
    )
    if expected.bmc is not None:
        update["bmc"] = expected.bmc.model_copy(
            update={"address": mark(), "cable": mark(), "tor": mark(), "tor_port": mark()}
        )
    return expected.model_copy(update=update)


def _marked_nvlink(nvlink: NvlinkExpectation, mark: _Marks) -> NvlinkExpectation:
    """`nvlink` with a mark in place of each value that differs from domain to domain, in
    the order :func:`_domain_values` lists them."""
    update: dict[str, object] = {"domain": mark(), "domain_gpus": mark(), "switch_trays": mark()}
    update["imex_peers"] = tuple(
        peer.model_copy(update={"name": mark(), "address": mark()}) for peer in nvlink.imex_peers
    )
    return nvlink.model_copy(update=update)
