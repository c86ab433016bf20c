"""The Pulumi program for a plain `pulumi up`: the stack's bringup:cluster config, planned."""

import sys

import pulumi

from bringup.infra.program import cluster_program
from bringup.spec import SpecError, parse_cluster

try:
    cluster = parse_cluster(
        pulumi.Config("bringup").require_object("cluster"), f"stack {pulumi.get_stack()}"
    )
except SpecError as error:
    sys.exit(str(error))
cluster_program(cluster, pulumi.get_stack())
