import csv
import json
import os
import subprocess
import sys

import pytest

from sklearn_gce import cli

TINY = ["--seeds", "2", "--epochs", "1", "--hidden", "8", "--losses", "ce,gce"]
ERROR = "sklearn-gce: error: "


def _run(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def small_csv(tmp_path):
    path = tmp_path / "small.csv"
    rows = ["f1,f2,f3,species"]
    for i in range(60):
        label = ("setosa", "versicolor", "virginica")[i % 3]
        rows.append(f"{i % 3 + 0.1 * (i % 7)},{(i * 7) % 11},{i % 5},{label}")
    path.write_text("\n".join(rows) + "\n")
    return path


def test_tiny_run_writes_every_output(capsys, tmp_path):
    out_dir = tmp_path / "results" / "nested"
    status, out, err = _run(
        capsys, "compare", *TINY, "--post-hoc", "none,ats", "--out", str(out_dir)
    )
    assert status == 0
    assert "accuracy" in out and "GCE against each baseline" in out
    assert "4/4" in err and "wrote" in err  # the progress bar and the file list

    with open(out_dir / "runs.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 2 * 2 * 2  # seeds x losses x methods
    assert {row["method"] for row in rows} == {"none", "ats"}
    assert all(0 <= float(row["ece"]) <= 1 for row in rows)

    def refuse(value):
        raise ValueError(f"not strict JSON: {value}")

    payload = json.loads((out_dir / "runs.json").read_text(), parse_constant=refuse)
    assert len(payload["runs"]) == 8 and payload["settings"]["seeds"] == 2
    assert payload["environment"]["torch"]
    assert payload["environment"]["command"].startswith("sklearn-gce compare --seeds 2")
    assert {row["loss"] for row in payload["summary"]} == {"ce", "gce"}
    assert payload["tests"][0]["verdict"] == "too few seeds to test"

    summary = (out_dir / "summary.md").read_text()
    assert summary.startswith("# sklearn-gce compare: digits")
    assert "| loss | post-hoc | accuracy |" in summary and "## Environment" in summary
    if os.path.exists(out_dir / "reliability.png"):
        assert (out_dir / "reliability.png").read_bytes()[:4] == b"\x89PNG"
    else:
        pytest.importorskip("matplotlib")
        pytest.fail("reliability.png is missing although matplotlib is installed")


def test_quiet_keeps_stderr_empty(capsys):
    status, out, err = _run(capsys, *TINY, "--seeds", "1", "--quiet")
    assert status == 0 and err == ""
    assert "ce " in out and "1 seeds" in out


def test_no_arguments_run_compare_with_its_defaults(capsys, monkeypatch):
    seen = {}

    def fake_compare(args):
        seen.update(vars(args))
        return 0

    monkeypatch.setattr(cli, "_compare", fake_compare)
    assert cli.main([]) == 0
    assert seen["command"] == "compare" and seen["dataset"] is None
    assert seen["seeds"] == cli.DEFAULT_SEEDS and seen["epochs"] == cli.DEFAULT_EPOCHS
    assert seen["losses"] == "ce,gce,ls,focal,flsd53,dualfocal"
    assert seen["post_hoc"] == "none,temperature,ats" and seen["device"] == "cpu"
    assert cli.main(["--seeds", "3"]) == 0 and seen["seeds"] == 3


def test_csv_run_with_string_labels(capsys, small_csv):
    status, out, _ = _run(
        capsys, "--csv", str(small_csv), "--target", "species", *TINY, "--quiet"
    )
    assert status == 0
    assert "60 rows, 3 features, 3 classes" in out


def test_no_matplotlib_skips_the_pictures_with_a_note(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    status, _, err = _run(capsys, *TINY, "--seeds", "1", "--out", str(tmp_path))
    assert status == 0
    assert "matplotlib is not installed" in err and "pip install matplotlib" in err
    assert sorted(os.listdir(tmp_path)) == ["runs.csv", "runs.json", "summary.md"]
    assert "reliability.png was skipped" in (tmp_path / "summary.md").read_text()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--csv", "absent.csv", "--target", "y"], "no such file: absent.csv"),
        (["--csv", "{csv}", "--target", "kind"], "no column 'kind'"),
        (["--csv", "{csv}"], "--csv needs --target"),
        (["--target", "y"], "--target goes with --csv"),
        (["--dataset", "cifar10"], "unknown dataset 'cifar10'"),
        (["--losses", "ce,hinge"], "unknown loss 'hinge'"),
        (["--post-hoc", "isotonic"], "unknown post-hoc method"),
        (["--seeds", "0"], "--seeds: must be at least 1"),
        (["--epochs", "ten"], "--epochs: 'ten' is not an integer"),
        (["--batch-size", "-4"], "--batch-size: must be at least 1"),
        (["--hidden", "64,x"], "--hidden"),
        (["--lr", "0"], "--lr: must be a positive number"),
        (["--device", "tpu"], "invalid choice: 'tpu'"),
        (["--test-size", "1.5"], "--test-size: must be between 0 and 1"),
        (["--calib-size", "0.5", "--test-size", "0.5"], "add up to less than 1"),
        (["--unknown-classes", "11"], "unknown classes [11]"),
        (["--dataset", "digits", "--csv", "x.csv"], "not allowed with"),
        (["--imbalance-ratio", "10"], "use its -lt name"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_input_gets_one_line_and_status_2(capsys, small_csv, argv, message):
    argv = [arg.replace("{csv}", str(small_csv)) for arg in argv]
    status, out, err = _run(capsys, *argv)
    assert status == 2 and out == ""
    assert err.startswith(ERROR) and err.count("\n") == 1
    assert message in err


@pytest.mark.parametrize(
    "content, message",
    [
        ("a,b,y\n1,2,u\n3,4,u\n5,6,u\n", "single class ('u')"),
        ("a,b,y\n1,red,u\n3,4,v\n", "column 'b' of"),
        ("a,b,y\n" + "1,2,u\n" * 5 + "3,4,v\n", "class 'v' has 1 sample"),
    ],
)
def test_bad_csv_content(capsys, tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    status, _, err = _run(capsys, "--csv", str(path), "--target", "y")
    assert status == 2 and err.startswith(ERROR) and err.count("\n") == 1
    assert message in err


def test_cuda_without_a_device(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is available")
    status, _, err = _run(capsys, "--device", "cuda")
    assert status == 2 and "no CUDA device" in err


def test_training_failure_gets_one_line_and_status_1(capsys, monkeypatch):
    import sklearn_gce.compare as compare

    def diverge(*args, **kwargs):
        raise FloatingPointError("The train loss became nan in epoch 3;\nmore")

    monkeypatch.setattr(compare, "run_comparison", diverge)
    status, _, err = _run(capsys, *TINY, "--quiet")
    assert status == 1
    assert err == f"{ERROR}training failed: The train loss became nan in epoch 3;\n"


def test_module_entry_point_in_a_fresh_process():
    import sklearn_gce

    root = os.path.dirname(os.path.dirname(os.path.abspath(sklearn_gce.__file__)))
    env = {**os.environ, "PYTHONPATH": root}
    done = subprocess.run(
        [sys.executable, "-m", "sklearn_gce", "compare", "--losses", "gce,nope"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"{ERROR}unknown loss 'nope'; choose from ce, gce, ls, " + (
        "focal, flsd53, dualfocal (e.g. gce:0.5)\n"
    )
    version = subprocess.run(
        [sys.executable, "-m", "sklearn_gce", "--version"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert version.returncode == 0 and version.stdout.strip()


@pytest.mark.filterwarnings("ignore:reg_weight=2.0 > 1:UserWarning")
def test_gce_above_one_gets_a_note(capsys):
    status, out, _ = _run(
        capsys, "--losses", "ce,gce:2", "--seeds", "1", "--epochs", "1", "--quiet"
    )
    assert status == 0 and "gce:2: GCE with lambda > 1 is not a proper loss" in out
