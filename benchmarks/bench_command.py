"""Wall time of the main job and of the test suite, idle and on a busy machine.

Times, in fresh processes, the README's two commands as a user runs them
from the repository root: ``sklearn-gce`` (the default comparison: digits,
6 losses x 10 seeds, all cores; stdout discarded) and ``python -m pytest``
(the default suite), each ``--rounds`` times, first on the machine as it is
("idle": run it on an idle machine), then with ``--load`` CPU-bound
processes running beside it (the issue's "two other CPU-bound processes").

    python benchmarks/bench_command.py [--rounds 2] [--load 2] [--what command,tests]

writes ``benchmarks/results/command_speed.{md,json}`` (``--out``).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from _env import Background, describe_run, markdown_header

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMANDS = {
    "command": [sys.executable, "-m", "sklearn_gce", "--quiet"],
    "tests": [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
}
GOALS = {"command": 30.0, "tests": 60.0}  # idle; loaded: 2x and 3x of idle
LOADED_GOAL = {"command": 2.0, "tests": 3.0}


def wall_time(what):
    start = time.perf_counter()
    done = subprocess.run(
        COMMANDS[what], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{what} failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--load", type=int, default=2, help="0: idle only")
    parser.add_argument("--what", default="command,tests")
    parser.add_argument("--out", default="benchmarks/results/command_speed")
    args = parser.parse_args()
    what = [name.strip() for name in args.what.split(",")]
    conditions = ["idle"] + ([f"{args.load} CPU-bound processes"] if args.load else [])
    times = {}
    for condition in conditions:
        for name in what:
            with Background(args.load if condition != "idle" else 0):
                times[condition, name] = [wall_time(name) for _ in range(args.rounds)]
            print(condition, name, [round(t, 1) for t in times[condition, name]])
    lines = [
        markdown_header("The main job and the test suite: wall time", describe_run()),
        "| what | condition | wall times (s) | median (s) | goal |",
        "|---|---|---|---|---|",
    ]
    for (condition, name), values in times.items():
        idle = statistics.median(times["idle", name])
        if condition == "idle":
            goal = f"<= {GOALS[name]:g} s"
        else:
            ratio = statistics.median(values) / idle
            goal = f"<= {LOADED_GOAL[name]:g} x idle (here {ratio:.2f} x)"
        shown = ", ".join(f"{t:.1f}" for t in values)
        lines.append(
            f"| `{' '.join(COMMANDS[name][2:])}` | {condition} | {shown} | "
            f"{statistics.median(values):.1f} | {goal} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(ROOT, args.out + ".md"), "w") as file:
        file.write(text)
    with open(os.path.join(ROOT, args.out + ".json"), "w") as file:
        json.dump({f"{c} | {n}": v for (c, n), v in times.items()}, file, indent=1)


if __name__ == "__main__":
    main()
