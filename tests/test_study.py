"""The code path of the study scripts (benchmarks/study.py, gpu_study.py) at a
tiny size, on CPU."""

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import gpu_study  # noqa: E402
import study  # noqa: E402

from sklearn_gce.compare import parse_losses  # noqa: E402

S = study.Setting
OOD = (6, 7, 8, 9)


def _tiny_plan():
    """One setting per part; efficiency and batch reuse the grid's runs."""
    return study.Plan(
        seeds=2,
        settings=(
            S("grid", "digits", "digits", "ce,gce", 60, 1),
            S("efficiency", "digits n=60", "digits", "ce,gce", 60, 1),
            S("longtail", "digits-lt10", "digits-lt10", "ce,gce", 80, 1),
            S("batch", "digits batch=64", "digits", "gce,ce", 60, 1, 64),
            S(
                "ood",
                "digits (classes 0-5)",
                "digits",
                "ce,gce",
                40,
                1,
                unknown_classes=OOD,
            ),
        ),
    )


@pytest.mark.slow  # the reliability plot alone takes seconds
def test_study_runs_and_reports_a_grid(tmp_path):
    plan = study.Plan(
        seeds=1, settings=(S("grid", "digits", "digits", "ce,gce", 60, 1),)
    )
    results = study.run_study(plan, tmp_path, parts=("grid",), info={"commit": "t"})
    records = results["grid"][1]
    assert len(records) == 2 * len(study.METHODS)
    assert {r["model"] for r in records} == {"cnn"}
    text = (tmp_path / "study.md").read_text(encoding="utf-8")
    assert "## 1." in text and "## 2." not in text
    assert (tmp_path / "study_reliability_digits.png").stat().st_size > 0


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    info = {"commit": "test"}
    results = study.run_study(_tiny_plan(), out, info=info)
    return out, results


@pytest.mark.slow
def test_study_writes_every_part(tiny_study):
    out, results = tiny_study
    assert list(results) == list(study.PARTS)
    text = (out / "study.md").read_text(encoding="utf-8")
    for heading in ("## 1.", "## 2.", "## 3.", "## 4.", "## 5."):
        assert heading in text
    assert (out / "study_reliability_digits.png").stat().st_size > 0
    with open(out / "study_runs.csv", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    # 5 settings x 2 losses x 2 seeds x 3 post-hoc methods
    assert len(rows) == 60
    payload = json.loads((out / "study.json").read_text(encoding="utf-8"))
    assert set(payload["results"]) == set(study.PARTS)
    assert payload["environment"]["load_average_1_5_15min_at_end"]


@pytest.mark.slow
def test_study_reuses_a_network_trained_the_same_way(tiny_study):
    _, results = tiny_study
    grid = results["grid"][1]
    for part in ("efficiency", "batch"):
        again = results[part][1]
        key = {(r["seed"], r["loss"], r["method"]): r for r in again}
        for record in grid:
            other = key[record["seed"], record["loss"], record["method"]]
            assert other["fit_seconds"] == record["fit_seconds"]  # the same run
            assert other["ece"] == record["ece"]
            assert other["dataset"] != record["dataset"]


@pytest.mark.slow
def test_tail_accuracy_only_in_the_long_tail(tiny_study):
    _, results = tiny_study
    for part, (_, records) in results.items():
        has = ["tail_accuracy" in r for r in records]
        assert all(has) if part == "longtail" else not any(has)
    values = [r["tail_accuracy"] for r in results["longtail"][1]]
    assert all(0 <= v <= 1 for v in values)


def test_add_tail_accuracy_is_the_recall_of_the_last_classes():
    y = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    pred = np.array([0, 1, 1, 1, 2, 0, 0, 0])
    proba = np.eye(4)[pred]
    records = [{"loss": "ce", "method": "none", "seed": 0}]
    study.add_tail_accuracy(records, {("ce", "none", 0): (y, proba)}, 2)
    # recall of class 2: 1/2, of class 3: 0/2
    assert records[0]["tail_accuracy"] == pytest.approx(0.25)


def test_estimate_counts_a_shared_network_once():
    plan = _tiny_plan()
    loaded = {}
    both = study.estimate_seconds(plan, 1, loaded)
    grid_only = study.estimate_seconds(
        study.Plan(seeds=2, settings=plan.settings[:1]), 1, loaded
    )
    # efficiency and batch train the grid's networks again: counted once
    others = (plan.settings[2], plan.settings[4])
    without_shared = study.estimate_seconds(
        study.Plan(seeds=2, settings=others), 1, loaded
    )
    assert both == pytest.approx(grid_only + without_shared)
    assert study.estimate_seconds(plan, 2, loaded) == pytest.approx(both / 2)


@pytest.mark.parametrize("plan", [study.full_plan(), study.quick_plan()])
def test_plans_are_well_formed(plan):
    labels = [s.label for s in plan.settings]
    assert len(labels) == len(set(labels))
    assert {s.part for s in plan.settings} == set(study.PARTS)
    for setting in plan.settings:
        assert parse_losses(setting.losses)
        assert setting.epochs >= 1
    grid = [s for s in plan.settings if s.part == "grid"]
    assert {"ce", "gce", "gce:0.25", "gce:0.5", "mbls", "ce+mixup"} <= set(
        grid[0].losses.split(",")
    )


def test_full_plan_has_ten_seeds_and_five_sizes():
    plan = study.full_plan()
    assert plan.seeds == 10
    sizes = [s.train_size for s in plan.settings if s.part == "efficiency"]
    assert len(sizes) == 5
    batches = [s.batch_size for s in plan.settings if s.part == "batch"]
    assert min(batches) == 16 and max(batches) == 512


def test_gpu_study_runs_on_cpu_at_a_tiny_size(tmp_path):
    pytest.importorskip("mnist1d")
    data = tmp_path / "m.npz"
    assert gpu_study.main(["--save-data", str(data), "--n-samples", "150"]) == 0
    out = tmp_path / "out"
    argv = [str(out), "--data", str(data), "--seeds", "1", "--epochs", "1"]
    assert gpu_study.main([*argv, "--losses", "gce", "--device", "cpu"]) == 0
    text = (out / "study.md").read_text(encoding="utf-8")
    assert "ResNet1dModule" in text and "mnist1d-150" in text
    with open(out / "study_runs.csv", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert {r["seed"] for r in rows} == {"0"}
    assert {r["model"] for r in rows} == {"resnet1d"}


def test_gpu_study_stops_before_a_round_past_its_time(tmp_path):
    pytest.importorskip("mnist1d")
    dataset = gpu_study.load_data(None, 150)
    plan = gpu_study.gpu_plan(dataset.name, seeds=2, epochs=1, losses="ce")
    ran = gpu_study.run_gpu_study(
        tmp_path,
        dataset,
        plan,
        device="cpu",
        n_jobs=1,
        seeds_per_round=1,
        max_minutes=0,
    )
    assert ran == [0]
    payload = json.loads((tmp_path / "study.json").read_text(encoding="utf-8"))
    assert "stopped" in payload["environment"]


@pytest.mark.parametrize(
    ("n_samples", "error"), [(99, ValueError), (1e4, TypeError), (True, TypeError)]
)
def test_load_mnist1d_refuses_a_bad_size(n_samples, error):
    from sklearn_gce.datasets import load_mnist1d

    with pytest.raises(error, match="n_samples"):
        load_mnist1d(n_samples)
