import csv
import errno
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from sklearn_gce import cli

TINY = ["--seeds", "2", "--epochs", "1", "--hidden", "8", "--losses", "ce,gce"]
TINY += ["--n-jobs", "1"]  # in this process; test_n_jobs_... tests the workers
ERROR = "sklearn-gce: error: "


_ENV = {
    **os.environ,
    "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(cli.__file__))),
}


def _run(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# drawing reliability.png takes about 2 s: the other tests of --out skip it
# (as without matplotlib, a path tested on its own)
DRAW_PICTURES = {"test_tiny_run_writes_every_output", "test_cnn_on_digits"}


@pytest.fixture(autouse=True)
def _pictures_only_where_tested(request, monkeypatch):
    if request.node.originalname not in DRAW_PICTURES:
        monkeypatch.setattr(cli, "_have_matplotlib", lambda: False)


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
    assert seen["n_jobs"] == -1 and seen["model"] == "mlp"
    assert seen["train_size"] is None and seen["hidden"] is None
    assert cli.main(["--seeds", "3"]) == 0 and seen["seeds"] == 3


def test_csv_run_with_string_labels(capsys, small_csv):
    status, out, _ = _run(
        capsys, "--csv", str(small_csv), "--target", "species", *TINY, "--quiet"
    )
    assert status == 0
    assert "60 rows, 3 features, 3 classes" in out


def test_warnings_of_the_runs_are_notes_on_stdout(capsys, small_csv, monkeypatch):
    import warnings

    from sklearn_gce.compare import _engine

    run_one = _engine.run_one

    def warns(*args, **kwargs):
        warnings.warn("few samples: 12", UserWarning, stacklevel=2)
        return run_one(*args, **kwargs)

    monkeypatch.setattr(_engine, "run_one", warns)
    argv = ["--csv", str(small_csv), "--target", "species", *TINY, "--quiet"]
    status, out, err = _run(capsys, *argv)
    assert status == 0 and err == ""
    assert "- UserWarning in seed 0 ce and 3 other runs: few samples: 12\n" in out


def test_no_matplotlib_skips_the_pictures_with_a_note(capsys, tmp_path, monkeypatch):
    monkeypatch.undo()  # the real check, not the fixture's shortcut
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
        (["--seeds", "-1"], "--seeds: must be at least 1"),
        (["--seeds", str(10**23)], "--seeds: must be at most 10000"),
        (["--seeds", "1e3"], "--seeds: '1e3' is not an integer"),
        (["--epochs", "0"], "--epochs: must be at least 1"),
        (["--n-jobs", "1.5"], "--n-jobs: '1.5' is not an integer"),
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
        (["--n-jobs", "0"], "--n-jobs: must not be 0"),
        (["--n-jobs", "two"], "--n-jobs: 'two' is not an integer"),
        (["--train-size", "0"], "--train-size: must be a fraction in (0, 1]"),
        (["--train-size", "1.5"], "--train-size: must be a fraction"),
        (["--train-size", "-3"], "--train-size: must be a fraction"),
        (["--train-size", "nan"], "--train-size: must be a fraction"),
        (["--train-size", "half"], "--train-size: must be a fraction"),
        (["--train-size", "5000"], "more than the 1077 samples"),
        (["--train-size", "5"], "leaves class 0 without training samples"),
        (["--model", "rnn"], "invalid choice: 'rnn'"),
        (
            ["--csv", "{csv}", "--target", "species", "--model", "cnn"],
            "CSV are tabular",
        ),
        (["--model", "cnn", "--hidden", "8"], "--hidden sets the layers of the MLP"),
        (["--model", "resnet1d"], "--model resnet1d takes signals (mnist1d)"),
        (["--losses", "ce+mixup:0"], "mixup's alpha must be a positive number"),
        (["--losses", "ce,ce+dropout"], "only mixup"),
        (["--losses", "gce:0.5,gce:0.50"], "'gce:0.5' is listed twice"),
        (["--batch-size", "1"], "GCE needs --batch-size 2 or more"),
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


def test_module_entry_point_in_a_fresh_process(capsys):
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
        "focal, flsd53, dualfocal, mbls\n"
    )
    # one Python start is enough (they cost seconds): --version in process
    assert _run(capsys, "--version") == (0, sklearn_gce.__version__ + "\n", "")


def test_gce_above_one_is_refused_with_the_reason(capsys):
    status, _, err = _run(
        capsys, *TINY, "--losses", "ce,gce:2", "--seeds", "1", "--quiet"
    )
    assert status == 2
    assert "'gce:2': lambda must be in [0, 1]" in err and "unbounded" in err


def test_cnn_on_digits(capsys, tmp_path):
    argv = ["--seeds", "1", "--epochs", "1", "--losses", "ce,gce", "--n-jobs", "1"]
    argv += ["--train-size", "300"]
    status, out, _ = _run(capsys, *argv, "--model", "cnn", "--out", str(tmp_path))
    assert status == 0 and "gce " in out
    payload = json.loads((tmp_path / "runs.json").read_text())
    assert payload["settings"]["model"] == "cnn"
    assert {run["model"] for run in payload["runs"]} == {"cnn"}


def test_batch_size_one_without_gce_trains(capsys):
    argv = [*TINY, "--losses", "ce,gce:0", "--seeds", "1", "--train-size", "100"]
    status, out, _ = _run(capsys, *argv, "--batch-size", "1")
    assert status == 0 and "gce:0" in out


def test_batch_larger_than_the_training_split_is_the_whole_split(capsys, tmp_path):
    argv = [*TINY, "--seeds", "1", "--train-size", "100", "--quiet"]
    status, out, _ = _run(
        capsys, *argv, "--batch-size", str(2**63), "--out", str(tmp_path)
    )
    assert status == 0 and "gce " in out
    settings = json.loads((tmp_path / "runs.json").read_text())["settings"]
    assert settings["batch_size"] == 100


def test_huge_n_jobs_is_capped_by_the_runs(capsys, tmp_path):
    argv = [*TINY, "--seeds", "1", "--losses", "ce", "--post-hoc", "none"]
    status, out, _ = _run(capsys, *argv, "--n-jobs", str(10**20), "--quiet")
    assert status == 0 and "(1 processes)" in out
    status, out, _ = _run(capsys, *argv, "--n-jobs", str(-(10**20)), "--quiet")
    assert status == 0 and "(1 processes)" in out


# --- faults: one line, never a traceback ---


def test_interrupt_is_one_line_and_writes_nothing(capsys, tmp_path, monkeypatch):
    import sklearn_gce.compare as compare

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(compare, "run_comparison", interrupted)
    status, out, err = _run(capsys, *TINY, "--out", str(tmp_path))
    assert status == 130 and out == ""
    assert err.endswith(f"{ERROR}interrupted\n") and "Traceback" not in err
    assert os.listdir(tmp_path) == []


def test_a_full_disk_leaves_the_previous_outputs(capsys, tmp_path, monkeypatch):
    import sklearn_gce.compare as compare

    status, _, _ = _run(
        capsys, *TINY, "--seeds", "1", "--quiet", "--out", str(tmp_path)
    )
    assert status == 0
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}
    write_json = compare.write_json

    def disk_full(path, payload):
        with open(path, "w") as file:
            file.write('{"half": ')
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

    monkeypatch.setattr(compare, "write_json", disk_full)
    status, out, err = _run(capsys, *TINY, "--seeds", "1", "--out", str(tmp_path))
    assert status == 1 and "ce " in out  # the results still reach stdout
    assert err.splitlines()[-1] == (
        f"{ERROR}cannot write the results to --out {tmp_path}: No space left on "
        "device; nothing was written"
    )
    after = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}
    assert after == before  # no half-written file, no temporary folder
    monkeypatch.setattr(compare, "write_json", write_json)


def test_out_folder_removed_during_the_run(capsys, tmp_path, monkeypatch):
    import sklearn_gce.compare as compare

    out_dir = tmp_path / "results"
    run_comparison = compare.run_comparison

    def run_then_remove(*args, **kwargs):
        result = run_comparison(*args, **kwargs)
        shutil.rmtree(out_dir)
        return result

    monkeypatch.setattr(compare, "run_comparison", run_then_remove)
    status, _, err = _run(capsys, *TINY, "--quiet", "--out", str(out_dir))
    assert status == 1 and err.count("\n") == 1
    assert "no longer exists (removed during the run?)" in err
    assert not out_dir.exists()


class _ClosedPipe(io.StringIO):
    encoding = "utf-8"

    def write(self, text):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")


def test_stdout_closed_early_ends_quietly_and_still_writes(
    capsys, tmp_path, monkeypatch
):
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    status = cli.main([*TINY, "--quiet", "--out", str(tmp_path)])
    monkeypatch.undo()
    _, err = capsys.readouterr()
    assert status == 1 and err == ""
    assert "runs.json" in os.listdir(tmp_path)


class _FullDisk(io.StringIO):
    encoding = "utf-8"

    def write(self, text):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_stdout_on_a_full_disk_is_one_line_and_still_writes(
    capsys, tmp_path, monkeypatch
):
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdout", _FullDisk())
    status = cli.main([*TINY, "--seeds", "1", "--quiet", "--out", str(tmp_path)])
    monkeypatch.undo()
    _, err = capsys.readouterr()
    assert status == 1
    assert err == f"{ERROR}cannot write the results to stdout: " + (
        "No space left on device\n"
    )
    assert "runs.json" in os.listdir(tmp_path)


def _with_closed_stdout(*argv):
    """Run the command as ``sklearn-gce ... | head -0``: the reader is gone
    before the command writes. Its exit status and stderr."""
    done = subprocess.Popen(
        [sys.executable, "-m", "sklearn_gce", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_ENV,
    )
    done.stdout.close()
    _, err = done.communicate(timeout=300)
    return done.returncode, err


def test_closed_stdout_in_a_real_pipe():
    # argparse writes --help and --version and ignores the broken pipe itself
    assert _with_closed_stdout("--version") == (0, b"")
    assert _with_closed_stdout("--help") == (0, b"")


@pytest.mark.slow  # trains in a fresh Python process (torch's import: seconds)
def test_closed_stdout_in_a_real_pipe_after_a_comparison(tmp_path):
    argv = [*TINY, "--seeds", "1", "--losses", "ce", "--post-hoc", "none", "--quiet"]
    assert _with_closed_stdout(*argv, "--out", str(tmp_path)) == (1, b"")
    assert "runs.csv" in os.listdir(tmp_path)


def test_non_ascii_names_on_an_ascii_stdout(capsys, tmp_path, monkeypatch):
    path = tmp_path / "donn\u00e9es.csv"
    rows = ["\u00e2ge,taille,esp\u00e8ce"]
    for i in range(45):
        label = ("caf\u00e9", "th\u00e9", "\u6c34")[i % 3]
        rows.append(f"{i % 3 + 0.1 * (i % 7)},{(i * 7) % 11},{label}")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    stdout = io.TextIOWrapper(io.BytesIO(), encoding="ascii", errors="strict")
    monkeypatch.setattr(sys, "stdout", stdout)
    status = cli.main(["--csv", str(path), "--target", "esp\u00e8ce", *TINY, "--quiet"])
    stdout.flush()
    text = stdout.buffer.getvalue().decode("ascii")
    monkeypatch.undo()
    assert status == 0
    assert "donn\\xe9es.csv" in text and "esp\\xe8ce" in text
    assert "+/-" in text and "\u00b1" not in text


def test_huge_integer_labels_and_features(capsys, tmp_path):
    labels = tmp_path / "labels.csv"
    big = 2**63
    rows = ["a,b,y"] + [f"{i % 3},{i % 5},{big + i % 2}" for i in range(40)]
    labels.write_text("\n".join(rows) + "\n")
    status, out, _ = _run(capsys, "--csv", str(labels), "--target", "y", *TINY)
    assert status == 0 and "2 classes" in out

    features = tmp_path / "features.csv"
    rows = ["a,b,y"] + [f"{i % 3},{i}e300,{i % 2}" for i in range(40)]
    features.write_text("\n".join(rows) + "\n")
    status, _, err = _run(capsys, "--csv", str(features), "--target", "y", *TINY)
    assert status == 2 and err.count("\n") == 1
    assert "column 'b'" in err and "too large to standardise" in err


@pytest.mark.slow
def test_ctrl_c_stops_the_workers_cleanly(tmp_path):
    out_dir = tmp_path / "out"
    command = [sys.executable, "-m", "sklearn_gce", "--seeds", "4", "--epochs", "50"]
    process = subprocess.Popen(
        [*command, "--n-jobs", "2", "--out", str(out_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_ENV,
        start_new_session=True,
        # as from a shell: pytest-xdist's workers ignore SIGINT, and a child
        # would inherit that (Python then leaves it ignored)
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    err = b""
    while b"1/24" not in err:  # a first run has finished: the workers are busy
        chunk = process.stderr.read1(4096)
        assert chunk, "the command ended before its first run"
        err += chunk
    os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C in a terminal
    out, rest = process.communicate(timeout=120)
    err = (err + rest).decode()
    assert process.returncode == 130 and out == b""
    assert err.endswith(f"\n{ERROR}interrupted\n") and "Traceback" not in err
    assert os.listdir(out_dir) == []
    for _ in range(60):  # no worker left behind (the trackers end soon after)
        alive = subprocess.run(
            ["pgrep", "-a", "-s", str(process.pid)], capture_output=True, text=True
        ).stdout
        if not alive:
            break
        time.sleep(0.5)
    assert alive == ""
