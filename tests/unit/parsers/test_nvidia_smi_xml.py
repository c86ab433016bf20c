"""nvidia-smi -q -x: two real A100 captures; Hopper element names from the DTD (no real H100 XML).

There is no real `nvidia-smi -q -x` capture of an H100 or newer (PROVENANCE.md, known gaps).
HOPPER below is written from the element names of nvsmi_device_v12 as NVIDIA's drivers print
them (sram_uncorrectable_parity/secded, remapped_row_*, row_remapper_histogram_*, fabric).
"""

from __future__ import annotations

import pytest

from bringup.parsers import ParseError
from bringup.parsers.nvidia_smi import parse_query_xml

from .conftest import real

NETDATA = "nvidia-smi-xml/a100-sxm4-40gb_mig_510.47.03_netdata.xml"
TELEGRAF = "nvidia-smi-xml/a100-sxm4-80gb_mig_535.54.03_telegraf.xml"

HOPPER = """<?xml version="1.0" ?>
<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v12.dtd">
<nvidia_smi_log>
  <driver_version>550.90.07</driver_version>
  <attached_gpus>1</attached_gpus>
  <gpu id="00000000:19:00.0">
    <product_name>NVIDIA H100 80GB HBM3</product_name>
    <serial>1650124031592</serial>
    <persistence_mode>Enabled</persistence_mode>
    <ecc_errors>
      <volatile>
        <sram_correctable>0</sram_correctable>
        <sram_uncorrectable_parity>0</sram_uncorrectable_parity>
        <sram_uncorrectable_secded>2</sram_uncorrectable_secded>
        <dram_correctable>5</dram_correctable>
        <dram_uncorrectable>1</dram_uncorrectable>
      </volatile>
      <aggregate>
        <sram_threshold_exceeded>No</sram_threshold_exceeded>
      </aggregate>
    </ecc_errors>
    <remapped_rows>
      <remapped_row_corr>0</remapped_row_corr>
      <remapped_row_unc>1</remapped_row_unc>
      <remapped_row_pending>Yes</remapped_row_pending>
      <remapped_row_failure>No</remapped_row_failure>
      <row_remapper_histogram>
        <row_remapper_histogram_max>2559 bank(s)</row_remapper_histogram_max>
        <row_remapper_histogram_high>1 bank(s)</row_remapper_histogram_high>
      </row_remapper_histogram>
    </remapped_rows>
    <fabric>
      <state>Completed</state>
      <status>Success</status>
      <cliqueId>3</cliqueId>
      <health><summary>Unhealthy</summary></health>
    </fabric>
    <processes>
      <process_info>
        <pid>4242</pid><type>C</type><process_name>python3</process_name>
        <used_memory>1024 MiB</used_memory>
      </process_info>
    </processes>
  </gpu>
</nvidia_smi_log>
"""


def test_netdata_a100_40gb_in_mig_mode() -> None:
    report = parse_query_xml(real(NETDATA))
    assert (report.driver_version, report.cuda_version) == ("510.47.03", "11.6")
    (gpu,) = report.gpus
    assert gpu.bus_id == "00000000:00:04.0"
    assert gpu.name == "NVIDIA A100-SXM4-40GB"
    assert gpu.serial == "1324321002473"
    assert gpu.uuid == "GPU-27b94a00-ed54-5c24-b1fd-1054085de32a"
    assert gpu.persistence_mode is False
    assert (gpu.mig_mode, gpu.mig_devices) == ("Enabled", 2)
    assert gpu.fb_total_mib == 40960
    assert gpu.temperatures is not None
    assert (gpu.temperatures.gpu, gpu.temperatures.shutdown) == (36, 92)
    assert gpu.power is not None
    assert (gpu.power.draw, gpu.power.limit) == (66.92, 400.0)


def test_netdata_line_wrapped_value_and_na_counters() -> None:
    gpu = parse_query_xml(real(NETDATA)).gpus[0]
    # <clocks_throttle_reason_applications_clocks_setting> is wrapped across two lines.
    assert gpu.clock_event_reasons["applications_clocks_setting"] is False
    assert gpu.active_clock_event_reasons == ()
    assert gpu.ecc is not None
    assert gpu.ecc.volatile.dram_uncorrectable is None  # N/A in MIG mode
    assert gpu.ecc.aggregate.dram_uncorrectable == 0
    assert gpu.remapped_rows is None  # <remapped_rows>N/A</remapped_rows>


def test_telegraf_a100_trimmed_to_one_of_four_gpus() -> None:
    report = parse_query_xml(real(TELEGRAF))
    assert report.attached_gpus == 4
    assert len(report.gpus) == 1
    gpu = report.gpus[0]
    assert gpu.mig_devices == 4
    assert gpu.pcie is not None
    assert (gpu.pcie.gen_max, gpu.pcie.gen_host_max, gpu.pcie.width_max) == (4, 4, 16)
    assert gpu.fabric is not None
    assert gpu.fabric.state == "N/A"
    assert gpu.fields["pci/pci_bus_id"] == "00000000:01:00.0"
    assert gpu.processes == ()


def test_hopper_elements_map_to_the_same_model_as_the_text_report() -> None:
    gpu = parse_query_xml(HOPPER).gpus[0]
    assert gpu.ecc is not None
    assert gpu.ecc.volatile.sram_uncorrectable_total == 2
    assert gpu.ecc.volatile.uncorrectable_total == 3
    assert gpu.ecc.sram_threshold_exceeded is False
    assert gpu.remapped_rows is not None
    assert (gpu.remapped_rows.pending, gpu.remapped_rows.uncorrectable) == (True, 1)
    assert gpu.remapped_rows.histogram == {"max": 2559, "high": 1}
    assert gpu.fabric is not None
    assert (gpu.fabric.clique_id, gpu.fabric.health_summary) == ("3", "Unhealthy")
    assert [(p.pid, p.name, p.used_memory_mib) for p in gpu.processes] == [(4242, "python3", 1024)]


def test_malformed_xml_names_the_line() -> None:
    broken = HOPPER.replace("</serial>", "</serail>")
    with pytest.raises(ParseError) as raised:
        parse_query_xml(broken)
    assert raised.value.tool == "nvidia-smi -q -x"
    assert raised.value.lineno == 8
    assert "serial" in raised.value.line


def test_truncated_xml_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="not well-formed"):
        parse_query_xml(HOPPER[: len(HOPPER) // 2])


def test_line_numbers_count_leading_blank_lines() -> None:
    with pytest.raises(ParseError) as raised:
        parse_query_xml("\n\n" + HOPPER.replace("</serial>", "</serail>"))
    assert raised.value.lineno == 10


def test_other_xml_or_empty_text_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="not <nvidia_smi_log>"):
        parse_query_xml("<html><body/></html>")
    with pytest.raises(ParseError, match="empty input"):
        parse_query_xml("")
