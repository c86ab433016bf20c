"""The lab's Kubernetes control plane: etcd and kube-apiserver on this host, for a Kubernetes stack.

A Kubernetes stack's lab runs the real API server bringup's adapter talks to at a site, built by
scripts/build-kubernetes: etcd on loopback, and kube-apiserver in front of it with token
authentication, RBAC and service-account keys made here with openssl. No kubelet runs on the
lab's nodes (they are namespaces, not machines that run containers), so `up` registers every lab
node as a Node the way its kubelet would: named after the node, with the plan's labels (the
kubelet's ``--node-labels`` from the node's host_vars), the validation-pending taint (its
``--register-with-taints``), the node's address and the plan's CPU, memory and GPU capacity, and a
Ready condition. Nothing here runs a controller manager, so nothing else changes a Node after it
registered: the taints, conditions and cordons the tests read are bringup's and the operator's.

Everything lives in ``.lab/<stack>/kubernetes/``: the keys and certificate (``pki/``), the token
file (0600), etcd's data and the logs; the kubeconfig bringup and the operator's tools
use is ``.lab/<stack>/kubeconfig`` (0600: it holds the tokens). Its two contexts are ``bringup``
(what bringup's adapter uses) and ``operator`` (someone else, e.g. who cordons a node for a
ticket); both may do anything, as a site's administrators may.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from bringup.atomic import write_atomic
from bringup.lab.system import LabError, alive, kill, processes, tail
from bringup.plan import Plan
from bringup.plan.expectation import Expectations
from bringup.plan.scheduler import kubernetes_labels
from bringup.workspace import KubernetesInstall

PENDING_TAINT = "bringup.dev/validation-pending"
"""The taint a node registers with (the kubelet's ``--register-with-taints``), until admitted."""

START_TIMEOUT = 90.0
"""Seconds etcd and kube-apiserver have to answer on a busy host (about 6 s on an idle one)."""
STOP_TIMEOUT = 10.0
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
KUEUE_RESOURCES = {"Topology": "topologies", "ResourceFlavor": "resourceflavors"}
"""The Kueue kinds the rendered topology.yaml holds, by the resource (plural) that serves them."""
SERVICE_RANGE = "10.0.0.0/24"
"""The service addresses kube-apiserver hands out: none is used, but one range is required."""


@dataclass(frozen=True)
class Ports:
    """Where the control plane listens on loopback."""

    apiserver: int = 16443
    etcd: int = 12379
    etcd_peer: int = 12380

    @classmethod
    def free(cls) -> Ports:
        """Three ports nothing listens on now (for a control plane beside the lab's)."""
        found: list[int] = []
        holders = []
        for _ in range(3):
            holder = socket.socket()
            holder.bind(("127.0.0.1", 0))
            holders.append(holder)
            found.append(holder.getsockname()[1])
        for holder in holders:
            holder.close()
        return cls(*found)


@dataclass(frozen=True)
class LabKubernetes:
    """The control plane of one lab, its files under `dir`, its kubeconfig at `kubeconfig`."""

    dir: Path
    kubeconfig: Path
    install: KubernetesInstall
    ports: Ports = Ports()

    @property
    def server(self) -> str:
        """The API server's URL."""
        return f"https://127.0.0.1:{self.ports.apiserver}"

    @property
    def _pki(self) -> Path:
        return self.dir.absolute() / "pki"

    @property
    def _tokens(self) -> Path:
        return self.dir.absolute() / "tokens.csv"

    def configure(self) -> None:
        """Make the keys, the serving certificate, the tokens and the kubeconfig, once each."""
        if not self.install.built():
            raise LabError(
                "Kubernetes is not built: run scripts/build-kubernetes (`make setup` does)"
            )
        self._pki.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.dir / "log").mkdir(exist_ok=True)
        certificate = self._pki / "apiserver.crt"
        if not certificate.exists():
            _openssl(
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", str(self._pki / "apiserver.key"), "-out", str(certificate),
                "-days", "3650", "-subj", "/CN=bringup-lab-apiserver",
                "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            )  # fmt: skip
        if not (self._pki / "service-account.pub").exists():
            key = str(self._pki / "service-account.key")
            _openssl(
                "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key
            )  # fmt: skip
            _openssl("pkey", "-in", key, "-pubout", "-out", str(self._pki / "service-account.pub"))
        if not self._tokens.exists():
            users = {"bringup": secrets.token_urlsafe(32), "operator": secrets.token_urlsafe(32)}
            lines = "".join(f'{t},{u},{u},"system:masters"\n' for u, t in users.items())
            write_atomic(self._tokens, lines.encode(), mode=0o600)
        write_atomic(self.kubeconfig, self._kubeconfig().encode(), mode=0o600)

    def _kubeconfig(self) -> str:
        tokens = self._read_tokens()
        cluster = {"server": self.server, "certificate-authority": str(self._pki / "apiserver.crt")}
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "lab", "cluster": cluster}],
            "users": [{"name": u, "user": {"token": t}} for u, t in tokens.items()],
            "contexts": [
                {"name": u, "context": {"cluster": "lab", "user": u}} for u in sorted(tokens)
            ],
            "current-context": "bringup",
        }
        return yaml.safe_dump(config, sort_keys=False)

    def _read_tokens(self) -> dict[str, str]:
        tokens = {}
        for line in self._tokens.read_text().splitlines():
            token, user = line.split(",")[:2]
            tokens[user] = token
        return tokens

    def start(self) -> dict[str, int]:
        """Start etcd and kube-apiserver; returns their pids once the API server is ready."""
        self.configure()
        etcd = self._spawn("etcd", self._etcd_argv())
        try:
            api = self._spawn("kube-apiserver", self._apiserver_argv())
            self._wait_ready({"etcd": etcd, "kube-apiserver": api})
        except BaseException:
            self.stop()
            raise
        return {"etcd": etcd, "kube-apiserver": api}

    def _etcd_argv(self) -> list[str]:
        client = f"http://127.0.0.1:{self.ports.etcd}"
        peer = f"http://127.0.0.1:{self.ports.etcd_peer}"
        return [
            str(self.install.program("etcd")),
            "--name=lab",
            f"--data-dir={self.dir.absolute() / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=lab={peer}",
            # a lab's state is thrown away with the lab: no fsync on every write of a busy host
            "--unsafe-no-fsync",
            "--log-level=warn",
        ]

    def _apiserver_argv(self) -> list[str]:
        pki = self._pki
        return [
            str(self.install.program("kube-apiserver")),
            f"--etcd-servers=http://127.0.0.1:{self.ports.etcd}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.ports.apiserver}",
            f"--tls-cert-file={pki / 'apiserver.crt'}",
            f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--token-auth-file={self._tokens}",
            "--anonymous-auth=false",
            "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={pki / 'service-account.pub'}",
            f"--service-account-signing-key-file={pki / 'service-account.key'}",
            f"--service-cluster-ip-range={SERVICE_RANGE}",
            # no kubelet serves the kubernetes Service's endpoints, and none is needed
            "--endpoint-reconciler-type=none",
            # no node lifecycle controller runs to lift the not-ready taint this plugin puts on
            # a registering node: the lab's nodes register Ready, as their kubelets would
            "--disable-admission-plugins=TaintNodesByCondition",
            "--v=0",
        ]

    def _spawn(self, name: str, argv: Sequence[str]) -> int:
        log = self.dir / "log" / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        return process.pid

    def _wait_ready(self, pids: Mapping[str, int]) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            for name, pid in pids.items():
                if not alive(pid):
                    raise LabError(f"{name} exited: {tail(self.dir / 'log' / f'{name}.log')}")
            with contextlib.suppress(LabError):
                if self._call("GET", "/readyz")[0] == 200:
                    return
            time.sleep(0.3)
        raise LabError(
            f"kube-apiserver was not ready within {START_TIMEOUT:.0f} s: "
            f"{tail(self.dir / 'log' / 'kube-apiserver.log')}"
        )

    def stop(self, *, every_lab: bool = False) -> list[int]:
        """End the etcd and kube-apiserver of this lab, or of every lab on this host (`down`
        of a lab removes every lab); found by their command lines, never by a recorded pid that
        may be another process's by now. Returns the pids ended."""
        pids = set(_lab_daemons(None if every_lab else self.dir))
        kill(sorted(pids), signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        kill(sorted(p for p in pids if alive(p)))
        for pid in pids:  # this process's children, when it started them: no zombies left
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
        return sorted(pids)

    def forget(self) -> None:
        """Remove etcd's data: the next `start` begins with no Nodes (the keys, tokens and
        kubeconfig stay, as the Slurm controller's MUNGE key does)."""
        shutil.rmtree(self.dir / "etcd", ignore_errors=True)

    def install_kueue(self, objects: str) -> list[str]:
        """Install Kueue's Topology and ResourceFlavor CRDs and create `objects` (the YAML
        documents of the stack's rendered kubernetes/topology.yaml), as a site applies them:
        the API server checks each against Kueue's own schema. Returns the objects created,
        as ``kind/name``."""
        for file in sorted(self.install.crds.glob("*.yaml")):
            crd = yaml.safe_load(file.read_text())
            status, said = self._call("POST", CRDS, crd)
            if status not in (200, 201, 409):
                raise LabError(f"installing {file.name}: HTTP {status}: {said}")
        created = []
        for document in yaml.safe_load_all(objects):
            kind, name = document["kind"], document["metadata"]["name"]
            group, version = document["apiVersion"].split("/")
            path = f"/apis/{group}/{version}/{KUEUE_RESOURCES[kind]}"
            deadline = time.monotonic() + START_TIMEOUT
            while True:  # a CRD serves its resource a moment after it is created
                status, said = self._call("POST", path, document)
                if status != 404 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            if status not in (200, 201):
                raise LabError(f"creating {kind} {name}: HTTP {status}: {said}")
            created.append(f"{kind}/{name}")
        return created

    def register(self, plan: Plan, addresses: Mapping[str, str]) -> list[str]:
        """Register each node of `addresses` (name -> management address) as its kubelet
        would; returns the names registered (a node already registered is left as it is)."""
        by_name = {n.name: n for n in plan.nodes}
        expectations = Expectations(plan)
        registered = []
        for name, address in addresses.items():
            node = by_name[name]
            labels = kubernetes_labels(plan, node) | {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
            }
            gpus = expectations.of(node).gpu_count
            capacity = {"pods": "110", **({"nvidia.com/gpu": str(gpus)} if gpus else {})}
            body: dict[str, object] = {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": name, "labels": labels},
                "spec": {"taints": [{"key": PENDING_TAINT, "effect": "NoSchedule"}]},
                "status": {
                    "capacity": capacity,
                    "allocatable": capacity,
                    "addresses": [
                        {"type": "InternalIP", "address": address},
                        {"type": "Hostname", "address": name},
                    ],
                    "conditions": [_ready()],
                },
            }
            status, said = self._call("POST", "/api/v1/nodes", body)
            if status in (200, 201):
                registered.append(name)
            elif status != 409:  # 409: registered already
                raise LabError(f"registering node {name}: HTTP {status}: {said}")
        return registered

    def _call(self, method: str, path: str, body: object = None) -> tuple[int, str]:
        """One request to the API server as bringup: its HTTP status and its answer's text."""
        context = ssl.create_default_context(cafile=str(self._pki / "apiserver.crt"))
        headers = {"Authorization": f"Bearer {self._read_tokens()['bringup']}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.server + path, data=data, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, context=context, timeout=30) as answer:
                return answer.status, answer.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")[:300]
        except (OSError, urllib.error.URLError) as error:
            raise LabError(f"kube-apiserver at {self.server}: {method} {path}: {error}") from None


def _ready() -> dict[str, str]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        "type": "Ready",
        "status": "True",
        "reason": "KubeletReady",
        "message": "registered by bringup's lab (no kubelet runs in a lab node)",
        "lastHeartbeatTime": now,
        "lastTransitionTime": now,
    }


def _openssl(*args: str) -> None:
    done = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise LabError(f"openssl {args[0]}: exit {done.returncode}: {done.stderr.strip()}")


def _lab_daemons(folder: Path | None = None) -> list[int]:
    """etcd and kube-apiserver processes of any lab on this host (their command lines name a
    ``.lab/<stack>/kubernetes/`` folder), or of the one whose files are in `folder`."""
    mine = None if folder is None else str(folder.absolute()).encode() + b"/"
    found = []
    for pid, program, args in processes():
        names_lab = any(
            (b"/.lab/" in a and b"/kubernetes/" in a) if mine is None else mine in a for a in args
        )
        if names_lab and program in ("etcd", "kube-apiserver"):
            found.append(pid)
    return found
