"""The Pulumi program for a plain `pulumi up`: the stack's bringup:cluster config, planned.

It renders the inventory (the working directory is the project); provisioning and admission
need bringup's own engine run (`bringup up --provision | --admit`).
"""

import sys

import pulumi

from bringup.errors import BringupError
from bringup.infra.components import Deployment
from bringup.infra.program import cluster_program
from bringup.spec import parse_cluster
from bringup.workspace import Workspace

try:
    cluster = parse_cluster(
        pulumi.Config("bringup").require_object("cluster"), f"stack {pulumi.get_stack()}"
    )
    stack = Workspace.here().stack(pulumi.get_stack())
except BringupError as error:
    sys.exit("\n".join(error.lines()))
cluster_program(cluster, Deployment(stack))
