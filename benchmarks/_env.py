"""Shared by the benchmark scripts: what a result file must say about its run.

The machine, date, versions and command come from the library's
:func:`sklearn_gce.compare.describe_environment` (which the command line also
records); a benchmark adds the git commit it measured.
"""

import os
import subprocess
import sys
import time
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
        # results written by an earlier benchmark do not change what is run
        code = ["--", ":(top)", ":(top,exclude)benchmarks/results"]
        if _git("status", "--porcelain", "--untracked-files=no", *code):
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


class Background:
    """``n`` CPU-bound processes while the block runs."""

    def __init__(self, n):
        self.n = n
        self.processes = []

    def __enter__(self):
        command = [sys.executable, "-c", "while True: pass"]
        self.processes = [subprocess.Popen(command) for _ in range(self.n)]
        time.sleep(1)  # let them reach the CPU
        return self

    def __exit__(self, *exc):
        for process in self.processes:
            process.kill()
        for process in self.processes:
            process.wait()
