"""Driver probing (nvidia-smi / /proc text as the driver prints it) and the build choice."""

from __future__ import annotations

import pytest

from app.gpu_env import GpuEnvError
from app.gpu_env.builds import choose_build, platform_key
from app.gpu_env.driver import Driver, Gpu, parse_nvidia_smi, parse_proc_version

SMI_TWO_GPUS = (
    "NVIDIA GeForce RTX 4090, 580.82.07, 8.9, 24564\nNVIDIA H200, 580.82.07, 9.0, 143771\n"
)
SMI_OLD_DRIVER = "NVIDIA GeForce GTX 1060 6GB, 470.256.02, 6144\n"  # no compute_cap column
PROC = (
    "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024\n"
    "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n"
)


def test_parse_nvidia_smi_reads_every_gpu():
    driver = parse_nvidia_smi(SMI_TWO_GPUS)
    assert driver.version == "580.82.07" and driver.version_tuple == (580, 82, 7)
    assert [g.compute_capability for g in driver.gpus] == [(8, 9), (9, 0)]
    assert driver.gpus[1] == Gpu("NVIDIA H200", (9, 0), 143771)


def test_parse_old_driver_without_compute_cap_and_proc_fallback():
    old = parse_nvidia_smi(SMI_OLD_DRIVER)
    assert old.version == "470.256.02" and old.gpus[0].compute_capability is None
    assert old.gpus[0].memory_mib == 6144
    assert parse_proc_version(PROC) == Driver("550.54.14", ())
    assert parse_nvidia_smi("NVIDIA-SMI has failed because it couldn't communicate\n") is None


def driver(version: str, *caps: tuple[int, int]) -> Driver:
    return Driver(version, tuple(Gpu(f"gpu{i}", cap, 8192) for i, cap in enumerate(caps)))


@pytest.mark.parametrize(
    ("version", "caps", "platform", "tag"),
    [
        ("580.82.07", [(8, 9)], "linux", "cu130"),  # new driver, Ada
        ("575.64", [(8, 6)], "linux", "cu128"),  # 12.x driver: no CUDA 13
        ("580.82.07", [(6, 1)], "linux", "cu126"),  # Pascal: only cu126 still builds sm_61
        ("580.82.07", [(7, 0)], "linux", "cu128"),  # Volta: dropped by CUDA 13
        ("528.33", [(8, 6)], "win32", "cu128"),  # Windows numbering
        ("550.54.14", [], "linux", "cu128"),  # /proc fallback: no capability known
    ],
)
def test_newest_build_that_fits(version, caps, platform, tag):
    assert choose_build(driver(version, *caps), platform).tag == tag


def test_no_build_fits_explains_why():
    with pytest.raises(GpuEnvError, match="No NVIDIA driver"):
        choose_build(None)
    with pytest.raises(GpuEnvError, match=r"driver 470\.256\.02 is too old.*525\.60\.13"):
        choose_build(driver("470.256.02", (6, 1)), "linux")
    with pytest.raises(GpuEnvError, match=r"compute capability 3\.7"):
        choose_build(driver("580.82.07", (3, 7)), "linux")
    assert platform_key("win32") == "win-amd64" and platform_key("linux") == "linux-x86_64"
