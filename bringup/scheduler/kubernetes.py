"""The Kubernetes adapter: nodes held with bringup's taints, condition and cordon, through the API.

What bringup marks on a Node, all under ``bringup.dev/``, and the only things it ever removes:

- the taint ``bringup.dev/validation-pending:NoSchedule`` while a node waits for its verdict (a
  node registers with it: the kubelet's ``--register-with-taints``), and
  ``bringup.dev/quarantine=<check>:NoSchedule`` on a node quarantined by admission or drained by
  an in-service incident; one of the two at a time;
- the condition ``bringup.dev/Validated``: Unknown while pending, False with the check as its
  reason and the component in its message while quarantined, True once admitted;
- a quarantined node is also cordoned (``spec.unschedulable``), as operators' tools expect of a
  node out of service; the annotation ``bringup.dev/cordoned`` records that the cordon is
  bringup's. A cordon without it is someone else's: never lifted, and the node is reported held
  by them (``kept``) once bringup's own marks are gone;
- the annotation ``bringup.dev/hold-reason``: the whole reason, as the Slurm adapter gives it;
- the plan's labels (:meth:`KubernetesScheduler.label`): bringup's keys are those of the labels
  it is given; a ``bringup.dev/`` label the plan no longer has is removed.

Changes go through strategic-merge patches that carry the node's ``resourceVersion``, so that a
change made by someone else in between (an operator's cordon) is never overwritten: a conflict
reads the node again and retries. The kubeconfig comes from the Access (``KUBECONFIG``, a
context), loaded by the official client, so a site's exec plugins and client certificates work as
``kubectl`` does.

>>> hold_marks("bringup: gpu:n1/0 gpu.ecc_uncorrected (incident 3)")[:3]
('bringup.dev/quarantine', 'gpu.ecc_uncorrected', 'GpuEccUncorrected')
>>> hold_marks("bringup: validation pending (run r1)")[:3]
('bringup.dev/validation-pending', '', 'ValidationPending')
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import cast

from bringup.access import SchedulerAccess
from bringup.scheduler.adapter import OWNER, OwnedHolds, SchedulerError, SchedulerNode

DOMAIN = "bringup.dev"
PENDING = f"{DOMAIN}/validation-pending"
QUARANTINE = f"{DOMAIN}/quarantine"
CONDITION = f"{DOMAIN}/Validated"
REASON = f"{DOMAIN}/hold-reason"
CORDONED = f"{DOMAIN}/cordoned"
TAINTS = (PENDING, QUARANTINE)

TIMEOUT_S = 30.0
"""How long one API request may take."""
RETRIES = 5
"""How often a change is tried again after a conflict (someone changed the node in between)."""
PAGE = 500
"""Nodes per page when many are read at once."""
GET_LIMIT = 50
"""Up to this many nodes are read one by one; more are listed a page at a time."""

Json = dict[str, object]
PatchFor = Callable[[Json], "Json | None"]
"""What to change of a node, as read now (None: nothing)."""
_SUFFIX = re.compile(r"\s*\((run|incident) [^)]*\)$")
_NOT_IN_VALUE = re.compile(r"[^A-Za-z0-9._-]+")


class KubernetesScheduler(OwnedHolds):
    """Kubernetes, reached with the kubeconfig and context the Access names.

    >>> KubernetesScheduler(SchedulerAccess(adapter="kubernetes")).describe()
    'kubernetes (the default kubeconfig)'
    """

    name = "kubernetes"
    coexists = True
    takes_labels = True

    def __init__(self, access: SchedulerAccess, *, timeout: float = TIMEOUT_S) -> None:
        self.access = access
        self.timeout = timeout
        self._client: object | None = None

    @classmethod
    def for_kubeconfig(cls, kubeconfig: Path, context: str | None = None) -> KubernetesScheduler:
        """The adapter for one kubeconfig and context."""
        return cls(SchedulerAccess.kubernetes(kubeconfig, context))

    def describe(self) -> str:
        """Which kubeconfig and context this adapter uses."""
        config = self.access.env.get("KUBECONFIG")
        context = self.access.context
        where = config or "the default kubeconfig"
        return f"kubernetes ({where}{f', context {context}' if context else ''})"

    # --- reading --------------------------------------------------------------------------

    def nodes(self, names: Sequence[str]) -> dict[str, SchedulerNode]:
        """The nodes of `names` the API server knows, read at once."""
        wanted = list(dict.fromkeys(names))
        found = self.read(wanted)
        return {n: scheduler_node(found[n]) for n in wanted if n in found}

    def read(self, names: Sequence[str]) -> dict[str, Json]:
        """The Node objects of `names` the API server knows (one GET each for a few, pages of
        the whole list for many)."""
        if len(names) <= GET_LIMIT:
            found = {}
            for name in names:
                node = self._get(name)
                if node is not None:
                    found[name] = node
            return found
        wanted, found, token = set(names), {}, ""
        while True:
            query = [("limit", PAGE), *([("continue", token)] if token else [])]
            status, page = self.request("GET", "/api/v1/nodes", query=query)
            if status != 200:
                raise self._error("list nodes", status, page)
            for item in cast(list[Json], _get(page, "items") or []):
                name = str(_get(item, "metadata", "name"))
                if name in wanted:
                    found[name] = item
            token = str(_get(page, "metadata", "continue") or "")
            if not token:
                return found

    def _get(self, name: str) -> Json | None:
        status, node = self.request("GET", f"/api/v1/nodes/{name}")
        if status == 404:
            return None
        if status != 200:
            raise self._error(f"get node {name}", status, node)
        return node

    # --- holding and releasing ------------------------------------------------------------

    def _drain(self, reason: str, names: Sequence[str]) -> None:
        taint, value, condition_reason, message = hold_marks(reason)
        status = "Unknown" if taint == PENDING else "False"
        for name in names:
            node = self._change(name, lambda node: held_patch(node, reason, taint, value))
            self._condition(node, status, condition_reason, message)

    def _resume(self, names: Sequence[str]) -> None:
        for name in names:
            node = self._change(name, released_patch)
            self._condition(node, "True", "Admitted", "validated and admitted by bringup")

    def label(self, labels: Mapping[str, Mapping[str, str]]) -> list[str]:
        """Give each node its planned labels; a ``bringup.dev/`` label the plan no longer has
        goes. Returns the nodes changed; nodes the API server does not know are skipped."""
        changed = []
        known = self.read(list(labels))
        for name, wanted in labels.items():
            if name not in known:
                continue
            if label_patch(known[name], wanted) is not None:
                self._change(name, functools.partial(label_patch, wanted=wanted))
                changed.append(name)
        return changed

    def pods_on(self, node: str) -> list[dict[str, str]]:
        """The pods bound to `node` (the watch keeps them with an incident, as it keeps the
        Slurm jobs of a node): namespace/name as the id, the owner (a Job, a JobSet's Job, a
        LeaderWorkerSet) as the name, the phase as the state, the namespace as the user."""
        query = [("fieldSelector", f"spec.nodeName={node}")]
        status, answer = self.request("GET", "/api/v1/pods", query=query)
        if status != 200:
            raise self._error(f"list pods on {node}", status, answer)
        pods = []
        for pod in cast(list[Json], answer.get("items") or []):
            namespace = str(_get(pod, "metadata", "namespace"))
            owners = cast(list[Json], _get(pod, "metadata", "ownerReferences") or [])
            owner = f"{owners[0].get('kind')}/{owners[0].get('name')}" if owners else ""
            name = str(_get(pod, "metadata", "name"))
            pods.append(
                {
                    "id": f"{namespace}/{name}",
                    "name": owner or name,
                    "state": str(_get(pod, "status", "phase") or "Unknown"),
                    "user": namespace,
                    "ended": "",
                }
            )
        return pods

    def patch(self, name: str, patch: Json, *, status: bool = False) -> Json:
        """Apply a strategic-merge patch to a Node (or its status); returns the node."""
        path = f"/api/v1/nodes/{name}" + ("/status" if status else "")
        code, answer = self.request(
            "PATCH", path, body=patch, content_type="application/strategic-merge-patch+json"
        )
        if code != 200:
            raise self._error(f"patch node {name}", code, answer)
        return answer

    def _change(self, name: str, patch_for: PatchFor) -> Json:
        """Patch node `name` with what `patch_for` makes of it as read now, guarded by its
        resourceVersion; read again and retry after a conflict. Returns the node as patched."""
        for _ in range(RETRIES):
            node = self._get(name)
            if node is None:
                raise SchedulerError(f"kubernetes: node {name} is gone")
            patch = patch_for(node)
            if patch is None:
                return node
            metadata = cast(Json, patch.setdefault("metadata", {}))
            metadata["resourceVersion"] = _get(node, "metadata", "resourceVersion")
            code, answer = self.request(
                "PATCH",
                f"/api/v1/nodes/{name}",
                body=patch,
                content_type="application/strategic-merge-patch+json",
            )
            if code == 200:
                return answer
            if code != 409:
                raise self._error(f"patch node {name}", code, answer)
            time.sleep(0.05)
        raise SchedulerError(f"kubernetes: node {name} kept changing; gave up after {RETRIES}")

    def _condition(self, node: Json, status: str, reason: str, message: str) -> None:
        """Set bringup's condition on `node` (merged by type with its others); the time of
        its last transition stays while its status does."""
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        previous = condition_of(node)
        same = previous is not None and previous.get("status") == status
        since = previous.get("lastTransitionTime", now) if same and previous else now
        condition = {
            "type": CONDITION,
            "status": status,
            "reason": reason,
            "message": message,
            "lastHeartbeatTime": now,
            "lastTransitionTime": since,
        }
        name = str(_get(node, "metadata", "name"))
        self.patch(name, {"status": {"conditions": [condition]}}, status=True)

    # --- the API --------------------------------------------------------------------------

    def _api(self) -> object:
        if self._client is None:
            from kubernetes import config  # the client loads in about 0.3 s: only when used

            config_file = self.access.env.get("KUBECONFIG")
            load = cast(Callable[..., object], config.new_client_from_config)
            try:
                self._client = load(
                    config_file=config_file, context=self.access.context, persist_config=False
                )
            except (config.ConfigException, OSError, ValueError) as error:
                said = " ".join(str(error).split())
                raise SchedulerError(
                    f"kubernetes: kubeconfig {config_file or '(default)'}: {said}"
                ) from None
        return self._client

    def request(
        self,
        method: str,
        path: str,
        *,
        body: object = None,
        content_type: str | None = None,
        query: Sequence[tuple[str, object]] = (),
    ) -> tuple[int, Json]:
        """One API request: its HTTP status and its JSON answer."""
        client = self._api()
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = content_type or "application/json"
        try:
            serialized = client.param_serialize(  # type: ignore[attr-defined]
                method=method,
                resource_path=path,
                query_params=list(query),
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            answer = client.call_api(*serialized, _request_timeout=self.timeout)  # type: ignore[attr-defined]
            answer.read()
            code, data = int(answer.status), answer.data
        except Exception as error:  # the client's transport raises urllib3's and its own
            said = " ".join(str(error).split())[:300]
            raise SchedulerError(f"kubernetes: {method} {path}: {said}") from None
        try:
            parsed = json.loads(data) if data else {}
        except ValueError:
            parsed = {"message": data[:300].decode(errors="replace")}
        return code, parsed if isinstance(parsed, dict) else {"items": parsed}

    def _error(self, what: str, status: int, answer: Json) -> SchedulerError:
        said = str(answer.get("message") or answer)[:300]
        return SchedulerError(f"kubernetes: {what}: HTTP {status}: {said}")


def hold_marks(reason: str) -> tuple[str, str, str, str]:
    """What a hold reason becomes on a Node: the taint's key and value, the condition's reason,
    and its message (the reason without ``bringup: ``)."""
    message = reason.removeprefix(OWNER).strip()
    what = _SUFFIX.sub("", message)
    if what == "validation pending":
        return PENDING, "", "ValidationPending", message
    words = what.split()
    if len(words) >= 2 and "." in words[1]:
        check = words[1]
    elif what.startswith("nvlink domain"):
        check = "nvlink-domain-held"
    else:
        check = words[0] if words else "quarantined"
    return QUARANTINE, taint_value(check), camel(check), message


def camel(check: str) -> str:
    """A check id as a condition reason: ``gpu.ecc_uncorrected`` -> ``GpuEccUncorrected``."""
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", check) if part)


def taint_value(text: str) -> str:
    """`text` made a taint value (a label value): at most 63 of [A-Za-z0-9._-], alphanumeric at both
    ends; empty when nothing of it is left."""
    value = _NOT_IN_VALUE.sub("-", text)[:63]
    return value.strip("._-")


def scheduler_node(node: Json) -> SchedulerNode:
    """A Node as the adapter interface sees it: held by bringup while one of its taints is on
    (reason: its annotation), else held by someone else while cordoned."""
    taints = {str(t.get("key")) for t in _taints(node)}
    annotations = cast(Json, _get(node, "metadata", "annotations") or {})
    cordoned = bool(_get(node, "spec", "unschedulable"))
    name = str(_get(node, "metadata", "name"))
    if taints & set(TAINTS):
        # a node that registered with the pending taint has no reason of bringup's yet
        state = "quarantined" if QUARANTINE in taints else "pending"
        said = "validation pending" if state == "pending" else "quarantined"
        reason = str(annotations.get(REASON) or f"{OWNER} {said}")
        return SchedulerNode(name, state, True, reason)
    if cordoned and annotations.get(CORDONED) != "true":
        return SchedulerNode(name, "cordoned", True, "cordoned by someone else")
    ready = next((c for c in _conditions(node) if c.get("type") == "Ready"), None)
    state = "ready" if ready is not None and ready.get("status") == "True" else "not-ready"
    return SchedulerNode(name, state)


def held_patch(node: Json, reason: str, taint: str, value: str) -> Json | None:
    """The patch that holds `node` with bringup's `taint` (the other one of bringup's goes),
    cordoning it for a quarantine unless someone else's cordon is on; None when nothing
    changes."""
    others = [t for t in _taints(node) if t.get("key") not in TAINTS]
    mine = {"key": taint, "effect": "NoSchedule", **({"value": value} if value else {})}
    taints = [*others, mine]
    annotations = cast(Json, _get(node, "metadata", "annotations") or {})
    patch: Json = {}
    if _taints(node) != taints:
        patch["spec"] = {"taints": taints}
    notes: Json = {}
    if annotations.get(REASON) != reason:
        notes[REASON] = reason
    cordoned = bool(_get(node, "spec", "unschedulable"))
    if taint == QUARANTINE and not cordoned:
        cast(Json, patch.setdefault("spec", {}))["unschedulable"] = True
        notes[CORDONED] = "true"
    if notes:
        patch["metadata"] = {"annotations": notes}
    return patch or None


def released_patch(node: Json) -> Json | None:
    """The patch that lifts bringup's marks from `node`: its taints, its reason, and its own
    cordon (never someone else's); None when nothing changes."""
    taints = _taints(node)
    kept = [t for t in taints if t.get("key") not in TAINTS]
    annotations = cast(Json, _get(node, "metadata", "annotations") or {})
    patch: Json = {}
    spec: Json = {}
    if kept != taints:
        spec["taints"] = kept
    notes: Json = {}
    if REASON in annotations:
        notes[REASON] = None
    if annotations.get(CORDONED) == "true":
        notes[CORDONED] = None
        spec["unschedulable"] = False
    if spec:
        patch["spec"] = spec
    if notes:
        patch["metadata"] = {"annotations": notes}
    return patch or None


def label_patch(node: Json, wanted: Mapping[str, str]) -> Json | None:
    """The patch that gives `node` the labels `wanted` and takes away ``bringup.dev/`` labels
    it should no longer have; None when nothing changes."""
    labels = cast(Json, _get(node, "metadata", "labels") or {})
    changes: Json = {k: v for k, v in wanted.items() if labels.get(k) != v}
    changes |= {k: None for k in labels if k.startswith(f"{DOMAIN}/") and k not in wanted}
    return {"metadata": {"labels": changes}} if changes else None


def node_row(node: Json) -> dict[str, str]:
    """A Node as one row of a table: its name, readiness, bringup's condition, taints and
    cordon."""
    ready = next((c for c in _conditions(node) if c.get("type") == "Ready"), {})
    mine = condition_of(node)
    said = f"{mine.get('status')} {mine.get('reason')}: {mine.get('message')}" if mine else "-"
    taints = [
        f"{t.get('key')}{'=' + str(t['value']) if t.get('value') else ''}:{t.get('effect')}"
        for t in _taints(node)
    ]
    return {
        "node": str(_get(node, "metadata", "name")),
        "ready": str(ready.get("status", "Unknown")),
        "bringup.dev/Validated": said,
        "taints": "\n".join(taints) or "-",
        "cordoned": "yes" if _get(node, "spec", "unschedulable") else "no",
    }


def condition_of(node: Json) -> Json | None:
    """bringup's condition on `node`, if any."""
    return next((c for c in _conditions(node) if c.get("type") == CONDITION), None)


def _taints(node: Json) -> list[Json]:
    return cast(list[Json], _get(node, "spec", "taints") or [])


def _conditions(node: Json) -> list[Json]:
    return cast(list[Json], _get(node, "status", "conditions") or [])


def _get(data: object, *keys: str) -> object:
    """data[k1][k2]…, None where a level is missing."""
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data
