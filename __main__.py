"""The Pulumi program of Pulumi.yaml (`pulumi preview | up | destroy`): the stack's
bringup:cluster config, planned, and its bringup:munge_key secret, when it has one.

Pulumi runs it in this folder, the project, where it renders inventory/<stack>/ as `bringup up`
does and writes the MUNGE key to .state/secrets/<stack>/; provisioning and admission need
bringup's own engine run (`bringup up --provision | --admit`).
"""

import sys

import pulumi

from bringup.errors import BringupError
from bringup.infra.components import Deployment
from bringup.infra.munge import CONFIG_KEY
from bringup.infra.program import cluster_program, registered
from bringup.spec import parse_cluster
from bringup.workspace import Workspace

config = pulumi.Config("bringup")
try:
    cluster = parse_cluster(config.require_object("cluster"), f"stack {pulumi.get_stack()}")
    stack = Workspace.here().stack(pulumi.get_stack())
except BringupError as error:
    sys.exit("\n".join(error.lines()))
root = cluster_program(cluster, Deployment(stack), munge_key=config.get_secret(CONFIG_KEY))
pulumi.run(lambda: registered(root.declared))
