"""Adding a rack adds that rack's files and leaves every other rack's files byte-identical."""

from __future__ import annotations

from typing import Any

import pytest

from bringup.render import render_cluster_files, render_rack_files

from .conftest import lab_data, plan_of


@pytest.mark.parametrize(
    "new_rack",
    [
        {"sku": "hgx-h100", "count": 1, "hall": 1, "row": 1, "rack": 4, "units": 2, "su": 1},
        {"sku": "cpu", "count": 2, "hall": 1, "row": 1, "rack": 7, "units": 1, "su": 1},
    ],
)
def test_adding_a_rack_leaves_existing_rack_files_untouched(new_rack: dict[str, Any]) -> None:
    before = plan_of(lab_data())
    grown_data = lab_data()
    grown_data["racks"].append(new_rack)
    after = plan_of(grown_data)
    old_racks = {r.name for r in before.racks}
    new_racks = {r.name for r in after.racks} - old_racks
    assert len(new_racks) == new_rack["count"]

    for rack in sorted(old_racks):
        assert render_rack_files(after, "lab", rack) == render_rack_files(before, "lab", rack), rack
    for rack in new_racks:
        assert render_rack_files(after, "lab", rack)  # the new rack brings its own host_vars

    cluster_before = render_cluster_files(before, "lab")
    cluster_after = render_cluster_files(after, "lab")
    assert set(cluster_after) == set(cluster_before)  # no new SKU: no new group_vars file
    assert cluster_after["hosts.yml"] != cluster_before["hosts.yml"]
    for rack in new_racks:
        assert f"rack-{rack}:" in cluster_after["hosts.yml"]
