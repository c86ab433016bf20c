"""The Pulumi program of Pulumi.yaml (`pulumi preview | up | destroy`): the stack's
bringup:cluster config, planned.

Pulumi runs it in this folder, the project, where it renders inventory/<stack>/ as `bringup up`
does; provisioning and admission need bringup's own engine run (`bringup up --provision |
--admit`).
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
