"""Shared by the benchmark scripts: what a result file must say about its run."""

import datetime
import os
import platform
import subprocess
import sys
from importlib import metadata

_PACKAGES = ("numpy", "scipy", "scikit-learn", "skorch", "torch")


def describe_run(extra_packages=()):
    """Machine, date, commit and versions, as a flat dict of strings."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=os.path.dirname(os.path.abspath(__file__)),
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            cwd=os.path.dirname(os.path.abspath(__file__)),
        ).stdout.strip()
        if dirty:
            commit += " (with uncommitted changes)"
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "commit": commit,
        "machine": f"{platform.node()} {platform.machine()}",
        "platform": platform.platform(),
        "cpu_count": str(os.cpu_count()),
        "python": sys.version.split()[0],
        "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
    }
    for name in (*_PACKAGES, *extra_packages):
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = "not installed"
    try:
        import torch

        info["torch_threads"] = str(torch.get_num_threads())
        info["cuda"] = (
            torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
        )
    except ImportError:
        pass
    return info


def markdown_header(title, info):
    """A markdown title followed by the run description as a bullet list."""
    lines = [f"# {title}", ""]
    lines += [f"- {key}: `{value}`" for key, value in info.items()]
    return "\n".join(lines) + "\n"
