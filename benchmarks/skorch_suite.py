"""skorch's own tests with GCEClassifier swapped in for NeuralNetClassifier.

Runs skorch's ``test_net.py`` and ``test_classifier.py`` twice: as they are,
and with ``skorch.NeuralNetClassifier`` replaced by a ``GCEClassifier`` given
skorch's defaults (``_skorch_swap.py``), then lists the tests that pass with
skorch and fail with GCEClassifier. Needs a checkout of skorch's sources at
the installed version, and skorch's test dependencies (``flaky``). skorch's
wheel ships its tests, so a copy of the installed package will do:

    git clone --branch v1.4.0 --depth 1 https://github.com/skorch-dev/skorch /tmp/skorch
    # or, offline: mkdir /tmp/skorch && cp -r "$(python -c 'import skorch, os;
    #   print(os.path.dirname(skorch.__file__))')" /tmp/skorch/
    pip install flaky
    python benchmarks/skorch_suite.py /tmp/skorch \
        [--out benchmarks/results/skorch_suite.md]

It takes about 5 minutes on 2 idle cores. Each regression is listed with
pytest's one-line reason.
"""

import argparse
import os
import re
import subprocess
import sys

TESTS = ["skorch/tests/test_net.py", "skorch/tests/test_classifier.py"]
_HERE = os.path.dirname(os.path.abspath(__file__))


def run(checkout, swap, rename=False, tests=TESTS):
    """Outcome counts, and the failed tests' ids with pytest's reasons."""
    env = dict(
        os.environ,
        GCE_SWAP="1" if swap else "0",
        GCE_SWAP_NAME="1" if rename else "0",
        PYTHONPATH=os.pathsep.join([checkout, _HERE]),
        OMP_NUM_THREADS="1",
        COLUMNS="300",  # pytest's one-line reasons, less truncated
    )
    command = [
        sys.executable,
        *("-m", "pytest", "-p", "_skorch_swap", "-p", "no:cacheprovider"),
        *("-o", "addopts=", "-q", "-rfE", *tests),
    ]
    result = subprocess.run(
        command, cwd=checkout, env=env, capture_output=True, text=True
    )
    out = result.stdout
    failed = dict(re.findall(r"^(?:FAILED|ERROR) (\S+)(?: - (.*))?$", out, flags=re.M))
    summary = re.findall(r"^=* ?(\d+ (?:passed|failed).*) in [\d.]+s", out, flags=re.M)
    return (summary[-1] if summary else out[-2000:]), failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkout", help="a checkout of skorch's sources")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    checkout = os.path.abspath(args.checkout)

    skorch_summary, skorch_failed = run(checkout, swap=False)
    gce_summary, gce_failed = run(checkout, swap=True)
    regressions = sorted(set(gce_failed) - set(skorch_failed))
    # the regressions again, with the swapped class under skorch's name
    renamed_failed = {}
    if regressions:
        _, renamed_failed = run(checkout, swap=True, rename=True, tests=regressions)
    names_only = [test for test in regressions if test not in renamed_failed]
    lines = [
        f"- NeuralNetClassifier: {skorch_summary}",
        f"- GCEClassifier (skorch's defaults): {gce_summary}",
        f"- failing with NeuralNetClassifier too: {len(skorch_failed)}",
        *(f"  - `{test}`: {skorch_failed[test]}" for test in sorted(skorch_failed)),
        f"- regressions: {len(regressions)}, of which {len(names_only)} pass when "
        "the class is named skorch.classifier.NeuralNetClassifier (only the "
        "class name differs in a message or repr)",
        *(
            f"  - `{test}` ({'name only' if test in names_only else 'BEHAVIOUR'}): "
            f"{gce_failed[test]}"
            for test in regressions
        ),
    ]
    report = "\n".join(lines)
    print(report)
    if args.out:
        sys.path.insert(0, _HERE)
        from _env import describe_run, markdown_header

        with open(args.out, "w") as f:
            f.write(
                markdown_header("skorch's tests with GCEClassifier", describe_run())
            )
            f.write("\n" + report + "\n")


if __name__ == "__main__":
    main()
