"""The judges, one module per concern; importing this package registers them all."""

from bringup.validation.judges import burn_in, fabric, gpu, nvlink, software, storage

__all__ = ["burn_in", "fabric", "gpu", "nvlink", "software", "storage"]
