"""What importing the light modules loads (``sklearn_gce._lazy`` and the lazy
``__getattr__`` of the packages keep torch out of them)."""

import json
import subprocess
import sys

import pytest

import sklearn_gce
import sklearn_gce.compare

# the lightest first: the command line parses its arguments without
# scikit-learn; the metrics and the calibrators work without torch
LIGHT_MODULES = ("sklearn_gce.cli", "sklearn_gce.metrics", "sklearn_gce.calibration")

_RECORD_IMPORTS = """
import importlib, json, sys
seen = {}
for name in sys.argv[1:]:
    importlib.import_module(name)
    seen[name] = sorted({module.split(".")[0] for module in sys.modules})
print(json.dumps(seen))
"""


@pytest.fixture(scope="module")
def fresh_imports():
    """The top-level packages loaded in a fresh interpreter after each import.

    One subprocess imports every module of ``LIGHT_MODULES`` in turn (a Python
    start costs seconds). The sets only grow, so a package missing after a
    module is one that this module does not import on its own either.
    """
    done = subprocess.run(
        [sys.executable, "-c", _RECORD_IMPORTS, *LIGHT_MODULES],
        capture_output=True,
        text=True,
        check=True,
    )
    return {name: set(packages) for name, packages in json.loads(done.stdout).items()}


def test_arguments_are_parsed_without_torch_or_scikit_learn(fresh_imports):
    # --version, --help and bad arguments answer in a fraction of a second
    assert not {"torch", "skorch", "sklearn"} & fresh_imports["sklearn_gce.cli"]


def test_importing_the_metrics_does_not_import_torch_or_matplotlib(fresh_imports):
    assert not {"torch", "matplotlib"} & fresh_imports["sklearn_gce.metrics"]


def test_calibration_module_does_not_import_torch(fresh_imports):
    assert "torch" not in fresh_imports["sklearn_gce.calibration"]


@pytest.mark.parametrize("package", [sklearn_gce, sklearn_gce.compare])
def test_lazy_names_are_listed_and_unknown_names_refused(package):
    assert set(dir(package)) == set(package.__all__)
    for name in package.__all__:
        assert getattr(package, name) is not None
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        package.nope  # noqa: B018
