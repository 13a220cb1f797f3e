"""Shared by the benchmark scripts: what a result file must say about its run.

The machine, date, versions and command come from the library's
:func:`sklearn_gce.compare.describe_environment` (which the command line also
records); a benchmark adds the git commit it measured.
"""

import os
import subprocess
import sys
from importlib import metadata

from sklearn_gce.compare import describe_environment

_HERE = os.path.dirname(os.path.abspath(__file__))


def _git(*args):
    return subprocess.run(
        ["git", *args], capture_output=True, text=True, check=True, cwd=_HERE
    ).stdout.strip()


def describe_run(extra_packages=(), device="cpu"):
    """Machine, date, commit and versions, as a flat dict of strings."""
    try:
        commit = _git("rev-parse", "--short", "HEAD")
        if _git("status", "--porcelain", "--untracked-files=no"):
            commit += " (with uncommitted changes)"
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    info = {"commit": commit, **describe_environment(device=device)}
    # as typed from the repository root, so that it can be run again
    script = os.path.relpath(os.path.abspath(sys.argv[0]), os.path.dirname(_HERE))
    info["command"] = " ".join(["python", script, *sys.argv[1:]])
    for name in extra_packages:
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = "not installed"
    return info


def markdown_header(title, info):
    """A markdown title followed by the run description as a bullet list."""
    lines = [f"# {title}", ""]
    lines += [f"- {key}: `{value}`" for key, value in info.items()]
    return "\n".join(lines) + "\n"
