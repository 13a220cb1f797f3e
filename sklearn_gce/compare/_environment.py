"""What a result file records about the run that made it."""

import datetime
import os
import platform
import sys
from importlib import metadata

__all__ = ["describe_environment"]

_PACKAGES = ("sklearn-gce", "numpy", "scipy", "scikit-learn", "skorch", "torch")


def describe_environment(device="cpu", argv=None):
    """Date, machine, versions and command line, as a flat dict of strings.

    Parameters
    ----------
    device : str, default="cpu"
        The torch device used; a CUDA device is recorded by name.
    argv : list of str or None
        The command line; None uses ``sys.argv``.

    Returns
    -------
    info : dict
    """
    argv = sys.argv if argv is None else argv
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "command": " ".join([os.path.basename(argv[0] or "python"), *argv[1:]]),
        "machine": f"{platform.node()} {platform.machine()}",
        "platform": platform.platform(),
        "cpu_count": str(os.cpu_count()),
        "python": sys.version.split()[0],
    }
    for name in _PACKAGES:
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = "not installed"
    import torch

    info["torch_threads"] = str(torch.get_num_threads())
    info["device"] = str(device)
    if str(device).startswith("cuda"):
        info["device"] += f" ({torch.cuda.get_device_name(torch.device(device))})"
    return info
