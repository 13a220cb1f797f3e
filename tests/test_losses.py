import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.special import logsumexp

from sklearn_gce import GCELoss, generative_cross_entropy, losses
from sklearn_gce.losses import (
    DualFocalLoss,
    FLSD53Loss,
    FocalLoss,
    MbLSLoss,
    dual_focal_loss,
    flsd53_loss,
    focal_loss,
    margin_label_smoothing_loss,
)

# --- independent float64 references (numpy / scipy, formulas of PAPER.md) ---


def _ref_gce(z, y, lam):
    """Per-sample GCE terms, in log space with scipy."""
    batch = z.shape[0]
    log_p = z - logsumexp(z, axis=1, keepdims=True)
    log_marginal = logsumexp(log_p, axis=0) - math.log(batch)
    return -log_p[np.arange(batch), y] + lam * log_marginal[y]


def _ref_gce_grad(z, y, lam):
    """dL/dz of the mean loss, the closed form of PAPER.md."""
    batch, n_classes = z.shape
    log_p = z - logsumexp(z, axis=1, keepdims=True)
    p = np.exp(log_p)
    onehot = np.eye(n_classes)[y]
    counts = onehot.sum(0)
    w = np.exp(log_p - logsumexp(log_p, axis=0))
    s = (w * counts).sum(1, keepdims=True)
    return (p - onehot + lam * (counts * w - p * s)) / batch


@pytest.fixture(params=["log_space", "prob_space"])
def path(request, monkeypatch):
    """Run a test through each internal implementation of the public function."""
    threshold = 0 if request.param == "prob_space" else 2**62
    monkeypatch.setattr(losses, "_PROB_SPACE_MIN_NUMEL", threshold)
    return request.param


def _random_problem(batch, n_classes, scale, seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((batch, n_classes)) * scale
    y = rng.integers(0, n_classes, batch)
    return z, y


def _rel_err(actual, expected):
    return np.abs(actual - expected).max() / max(np.abs(expected).max(), 1e-300)


@pytest.mark.parametrize("lam", [0.0, 0.5, 1.0, 2.0])
@pytest.mark.parametrize(
    "batch, n_classes, scale", [(1, 3, 1.0), (7, 2, 1.0), (64, 10, 3.0), (50, 200, 1e4)]
)
def test_matches_float64_reference(path, batch, n_classes, scale, lam):
    z_np, y_np = _random_problem(batch, n_classes, scale, seed=batch + n_classes)
    z = torch.tensor(z_np, requires_grad=True)
    y = torch.tensor(y_np)
    loss = generative_cross_entropy(z, y, reg_weight=lam)
    (grad,) = torch.autograd.grad(loss, z)

    expected = _ref_gce(z_np, y_np, lam).mean()
    assert loss.dtype == torch.float64
    assert abs(loss.item() - expected) <= 1e-6 * max(abs(expected), 1e-3)
    assert _rel_err(grad.numpy(), _ref_gce_grad(z_np, y_np, lam)) < 1e-6


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_reductions_match_reference(path, reduction):
    z_np, y_np = _random_problem(40, 6, 2.0, seed=3)
    per_sample = _ref_gce(z_np, y_np, 0.7)
    expected = {"mean": per_sample.mean(), "sum": per_sample.sum(), "none": per_sample}
    loss = generative_cross_entropy(
        torch.tensor(z_np), torch.tensor(y_np), reg_weight=0.7, reduction=reduction
    )
    np.testing.assert_allclose(loss.numpy(), expected[reduction], rtol=1e-10)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("lam", [0.3, 1.0])
def test_gradcheck(path, reduction, lam):
    z_np, y_np = _random_problem(12, 5, 2.0, seed=11)
    z = torch.tensor(z_np, requires_grad=True)
    y = torch.tensor(y_np)
    assert torch.autograd.gradcheck(
        lambda z: generative_cross_entropy(z, y, reg_weight=lam, reduction=reduction),
        (z,),
    )


@pytest.mark.parametrize("weighted", [False, True])
def test_second_order_gradients(path, weighted):
    z_np, y_np = _random_problem(10, 4, 2.0, seed=13)
    z = torch.tensor(z_np, requires_grad=True)
    w = torch.tensor(_random_weights(10, seed=13)) if weighted else None
    y = torch.tensor(y_np)
    assert torch.autograd.gradgradcheck(
        lambda z: generative_cross_entropy(z, y, reg_weight=0.6, sample_weight=w),
        (z,),
    )


@pytest.mark.parametrize("weighted", [False, True])
def test_paths_agree_on_large_batch(monkeypatch, weighted):
    z_np, y_np = _random_problem(600, 150, 3.0, seed=5)
    y = torch.tensor(y_np)
    weight = torch.tensor(_random_weights(600, seed=5)) if weighted else None
    probs = torch.softmax(torch.tensor(z_np), dim=1)
    assert losses._prob_space_terms(torch.tensor(z_np), y, weight) is not None
    assert probs.numel() >= losses._PROB_SPACE_MIN_NUMEL
    values, grads = [], []
    for threshold in (0, 2**62):  # probability space, then log space
        monkeypatch.setattr(losses, "_PROB_SPACE_MIN_NUMEL", threshold)
        z = torch.tensor(z_np, requires_grad=True)
        loss = generative_cross_entropy(z, y, reg_weight=0.8, sample_weight=weight)
        loss.backward()
        values.append(loss.item())
        grads.append(z.grad.numpy())
    assert abs(values[0] - values[1]) < 1e-12
    assert _rel_err(grads[0], grads[1]) < 1e-10


def test_prob_space_declines_when_probabilities_underflow():
    z = torch.zeros(4, 3)
    z[0, 0] = -1e4  # sample 0's target probability underflows
    y = torch.tensor([0, 1, 2, 1])
    assert losses._prob_space_terms(z, y, None) is None
    assert losses._prob_space_terms(torch.zeros(4, 3), y, None) is not None


def test_prob_space_with_a_class_that_no_sample_predicts(path):
    # class 5 has probability 0 in every sample (and is no target): the
    # probability-space path once divided 0 by 0 in its backward pass
    z = torch.randn(400, 200)
    z[:, 5] = -1e4
    y = torch.randint(0, 200, (400,))
    y[y == 5] = 0
    z.requires_grad_()
    loss = generative_cross_entropy(z, y)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()
    expected = _ref_gce(z.detach().double().numpy(), y.numpy(), 1.0).mean()
    assert abs(loss.item() - expected) < 1e-5


def test_zero_weight_is_cross_entropy(path):
    z = torch.randn(33, 7)
    y = torch.randint(0, 7, (33,))
    for reduction in ("mean", "sum", "none"):
        torch.testing.assert_close(
            generative_cross_entropy(z, y, reg_weight=0.0, reduction=reduction),
            F.cross_entropy(z, y, reduction=reduction),
            rtol=0,
            atol=0,
        )


def test_single_sample_batch_has_zero_loss_and_no_gradient(path):
    z = torch.randn(1, 5, requires_grad=True)
    loss = generative_cross_entropy(z, torch.tensor([2]))
    (grad,) = torch.autograd.grad(loss, z)
    assert loss.item() == pytest.approx(0.0, abs=1e-7)
    assert torch.all(grad.abs() < 1e-7)


@pytest.mark.parametrize("scale", [1e4, 1e30])
def test_extreme_logits_stay_finite(path, scale):
    z = (torch.randn(64, 10) * scale).requires_grad_()
    y = torch.randint(0, 10, (64,))
    loss = generative_cross_entropy(z, y)
    (grad,) = torch.autograd.grad(loss, z)
    assert torch.isfinite(loss) and torch.isfinite(grad).all()


def test_large_batch_never_builds_a_batch_by_batch_matrix():
    # B x B float32 would be 40 GB here; O(B K) is 1.6 MB
    z = torch.randn(100_000, 2, requires_grad=True)
    y = torch.randint(0, 2, (100_000,))
    generative_cross_entropy(z, y).backward()
    assert torch.isfinite(z.grad).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_logits_accumulate_in_float32(path, dtype):
    z_np, y_np = _random_problem(128, 10, 4.0, seed=1)
    z = torch.tensor(z_np, dtype=dtype, requires_grad=True)
    y = torch.tensor(y_np)
    loss = generative_cross_entropy(z, y)
    loss.backward()
    assert loss.dtype == torch.float32
    assert z.grad.dtype == dtype
    # the only error left is the rounding of the inputs to half precision
    expected = _ref_gce(z.detach().double().numpy(), y_np, 1.0).mean()
    assert abs(loss.item() - expected) < 1e-5 * max(1.0, abs(expected))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_under_cpu_autocast(path, dtype):
    torch.manual_seed(0)
    layer = torch.nn.Linear(8, 4)
    x = torch.randn(256, 8) * 50
    y = torch.randint(0, 4, (256,))
    with torch.autocast("cpu", dtype=dtype):
        logits = layer(x)
        loss = GCELoss()(logits, y)
    loss.backward()
    assert logits.dtype == dtype
    assert loss.dtype == torch.float32
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in layer.parameters())
    expected = _ref_gce(logits.detach().double().numpy(), y.numpy(), 1.0).mean()
    assert abs(loss.item() - expected) < 1e-5 * max(1.0, abs(expected))


@pytest.mark.parametrize("reg_weight", [-0.1, float("nan"), float("inf")])
def test_invalid_reg_weight_value(reg_weight):
    with pytest.raises(ValueError, match="reg_weight must be finite and >= 0"):
        generative_cross_entropy(
            torch.randn(4, 3), torch.tensor([0, 1, 2, 0]), reg_weight=reg_weight
        )
    with pytest.raises(ValueError, match="reg_weight"):
        GCELoss(reg_weight=reg_weight)


@pytest.mark.parametrize("reg_weight", ["1", None, True, torch.tensor(1.0)])
def test_invalid_reg_weight_type(reg_weight):
    with pytest.raises(TypeError, match="reg_weight must be a real number"):
        generative_cross_entropy(
            torch.randn(4, 3), torch.tensor([0, 1, 2, 0]), reg_weight=reg_weight
        )


@pytest.mark.parametrize(
    "logits, target, error, match",
    [
        (
            torch.randn(4),
            torch.tensor([0, 1, 2, 0]),
            ValueError,
            "n_samples, n_classes",
        ),
        (
            torch.randn(4, 3),
            torch.tensor([0, 1, 2]),
            ValueError,
            "target must have shape",
        ),
        (torch.randn(0, 3), torch.tensor([], dtype=torch.long), ValueError, "empty"),
        (torch.randn(4, 3), torch.tensor([0, 1, 3, 0]), ValueError, r"\[0, 3\)"),
        (torch.randn(4, 3), torch.tensor([0, 1, -100, 0]), ValueError, r"\[0, 3\)"),
        (torch.randn(4, 3), torch.tensor([0.0, 1, 2, 0]), TypeError, "class indices"),
        (
            torch.randint(0, 3, (4, 3)),
            torch.tensor([0, 1, 2, 0]),
            TypeError,
            "floating",
        ),
        (np.zeros((4, 3)), torch.tensor([0, 1, 2, 0]), TypeError, "torch tensors"),
    ],
)
def test_bad_inputs(logits, target, error, match):
    with pytest.raises(error, match=match):
        generative_cross_entropy(logits, target)


def test_bad_reduction():
    with pytest.raises(ValueError, match="reduction must be one of"):
        generative_cross_entropy(
            torch.randn(4, 3), torch.tensor([0, 1, 2, 0]), reduction="avg"
        )
    with pytest.raises(ValueError, match="reduction must be one of"):
        GCELoss(reduction="avg")


def test_int32_targets_are_accepted():
    z = torch.randn(6, 3)
    y = torch.tensor([0, 1, 2, 0, 1, 2])
    torch.testing.assert_close(
        generative_cross_entropy(z, y.int()), generative_cross_entropy(z, y)
    )


def test_module_wraps_the_function():
    z = torch.randn(16, 4)
    y = torch.randint(0, 4, (16,))
    criterion = GCELoss(reg_weight=0.25, reduction="sum")
    assert repr(criterion) == "GCELoss(reg_weight=0.25, reduction='sum')"
    torch.testing.assert_close(
        criterion(z, y),
        generative_cross_entropy(z, y, reg_weight=0.25, reduction="sum"),
    )


# --- sample weights ---


def _ref_weighted_gce(z, y, w, lam):
    """Per-sample terms l_i (before weighting), with the weighted marginal."""
    log_p = z - logsumexp(z, axis=1, keepdims=True)
    log_marginal = logsumexp(log_p, axis=0, b=w[:, None]) - math.log(w.sum())
    return -log_p[np.arange(len(y)), y] + lam * log_marginal[y]


def _ref_weighted_gce_grad(z, y, w, lam):
    """dL/dz of the weighted mean, by hand: with n_k the weight of label k
    and R_jk = w_j p_jk / sum_l w_l p_lk,
    W dL/dz_jm = w_j (p_jm - [m = y_j]) + lam (n_m R_jm - p_jm sum_k n_k R_jk)."""
    n_classes = z.shape[1]
    p = np.exp(z - logsumexp(z, axis=1, keepdims=True))
    onehot = np.eye(n_classes)[y]
    counts = (w[:, None] * onehot).sum(0)
    r = w[:, None] * p / (w[:, None] * p).sum(0)
    s = (r * counts).sum(1, keepdims=True)
    return (w[:, None] * (p - onehot) + lam * (counts * r - p * s)) / w.sum()


def _random_weights(batch, seed, zeros=True):
    rng = np.random.default_rng(seed)
    w = rng.exponential(size=batch)
    if zeros:
        w[rng.permutation(batch)[: batch // 4]] = 0.0
    return w


@pytest.mark.parametrize("lam", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("batch, n_classes, scale", [(7, 2, 1.0), (64, 10, 3.0)])
def test_weighted_matches_float64_reference(path, batch, n_classes, scale, lam):
    z_np, y_np = _random_problem(batch, n_classes, scale, seed=batch)
    w_np = _random_weights(batch, seed=batch)
    z = torch.tensor(z_np, requires_grad=True)
    loss = generative_cross_entropy(
        z, torch.tensor(y_np), reg_weight=lam, sample_weight=torch.tensor(w_np)
    )
    (grad,) = torch.autograd.grad(loss, z)
    per_sample = _ref_weighted_gce(z_np, y_np, w_np, lam)
    expected = (w_np * per_sample).sum() / w_np.sum()
    assert abs(loss.item() - expected) <= 1e-10 * max(abs(expected), 1e-3)
    assert _rel_err(grad.numpy(), _ref_weighted_gce_grad(z_np, y_np, w_np, lam)) < 1e-8


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_weighted_reductions(path, reduction):
    z_np, y_np = _random_problem(40, 6, 2.0, seed=3)
    w_np = _random_weights(40, seed=3)
    weighted = w_np * _ref_weighted_gce(z_np, y_np, w_np, 0.7)
    expected = {
        "mean": weighted.sum() / w_np.sum(),
        "sum": weighted.sum(),
        "none": weighted,
    }[reduction]
    loss = generative_cross_entropy(
        torch.tensor(z_np),
        torch.tensor(y_np),
        reg_weight=0.7,
        sample_weight=torch.tensor(w_np),
        reduction=reduction,
    )
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("lam", [0.5, 1.0])
def test_weighted_gradcheck(path, reduction, lam):
    z_np, y_np = _random_problem(12, 5, 2.0, seed=12)
    w = torch.tensor(_random_weights(12, seed=12))
    z = torch.tensor(z_np, requires_grad=True)
    y = torch.tensor(y_np)
    assert torch.autograd.gradcheck(
        lambda z: generative_cross_entropy(
            z, y, reg_weight=lam, sample_weight=w, reduction=reduction
        ),
        (z,),
    )


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_integer_weights_are_repeated_samples(path, reduction):
    z_np, y_np = _random_problem(30, 4, 2.0, seed=9)
    counts = np.random.default_rng(9).integers(0, 4, 30)
    rows = np.repeat(np.arange(30), counts)
    z = torch.tensor(z_np, requires_grad=True)
    weighted = generative_cross_entropy(
        z, torch.tensor(y_np), sample_weight=torch.tensor(counts), reduction=reduction
    )
    z_rep = torch.tensor(z_np[rows], requires_grad=True)
    repeated = generative_cross_entropy(
        z_rep, torch.tensor(y_np[rows]), reduction=reduction
    )
    if reduction == "none":  # each sample's copies add up to its weighted term
        repeated_per_sample = torch.zeros(30, dtype=torch.float64)
        repeated_per_sample.index_add_(0, torch.tensor(rows), repeated)
        torch.testing.assert_close(weighted, repeated_per_sample, rtol=1e-12, atol=0)
        weighted, repeated = weighted.sum(), repeated.sum()
    assert weighted.item() == pytest.approx(repeated.item(), rel=1e-12)
    weighted.backward()
    repeated.backward()
    grad_rep = torch.zeros_like(z).index_add_(0, torch.tensor(rows), z_rep.grad)
    torch.testing.assert_close(z.grad, grad_rep, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("lam", [0.0, 0.5, 1.0])
def test_unit_weights_are_the_unweighted_loss(path, reduction, lam):
    z, y = torch.randn(50, 7) * 3, torch.randint(0, 7, (50,))
    expected = generative_cross_entropy(z, y, reg_weight=lam, reduction=reduction)
    for weight in (None, torch.ones(50), torch.full((50,), 2.5)):
        loss = generative_cross_entropy(
            z, y, reg_weight=lam, sample_weight=weight, reduction=reduction
        )
        if weight is not None and reduction != "mean":
            loss = loss / weight[0]  # "sum" and "none" scale with the weights
        torch.testing.assert_close(loss, expected)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_zero_weights_drop_samples(path, reduction):
    z_np, y_np = _random_problem(20, 5, 2.0, seed=4)
    w_np = _random_weights(20, seed=4, zeros=False)
    w_np[[0, 3, 19]] = 0.0
    kept = w_np > 0
    z = torch.tensor(z_np, requires_grad=True)
    loss = generative_cross_entropy(
        z, torch.tensor(y_np), sample_weight=torch.tensor(w_np), reduction=reduction
    )
    z_kept = torch.tensor(z_np[kept], requires_grad=True)
    dropped = generative_cross_entropy(
        z_kept,
        torch.tensor(y_np[kept]),
        sample_weight=torch.tensor(w_np[kept]),
        reduction=reduction,
    )
    if reduction == "none":
        assert torch.all(loss[~torch.tensor(kept)] == 0)
        loss = loss[torch.tensor(kept)]
    torch.testing.assert_close(loss, dropped, rtol=1e-12, atol=1e-15)
    loss.sum().backward()
    dropped.sum().backward()
    # the dropped samples' logits get exactly no gradient
    assert torch.all(z.grad[~torch.tensor(kept)] == 0)
    torch.testing.assert_close(z.grad[torch.tensor(kept)], z_kept.grad)


def test_weights_with_half_precision_and_extreme_logits(path):
    z = (torch.randn(64, 10) * 1e4).to(torch.bfloat16).requires_grad_()
    y = torch.randint(0, 10, (64,))
    w = torch.rand(64, dtype=torch.float64)
    w[:5] = 0.0
    loss = generative_cross_entropy(z, y, sample_weight=w)
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    assert z.grad.dtype == torch.bfloat16 and torch.isfinite(z.grad).all()


@pytest.mark.parametrize(
    "weight, error, match",
    [
        (torch.tensor([1.0, -1.0, 1.0, 1.0]), ValueError, "finite and >= 0.*-1.0"),
        (torch.tensor([1.0, float("nan"), 1.0, 1.0]), ValueError, "finite and >= 0"),
        (torch.tensor([1.0, float("inf"), 1.0, 1.0]), ValueError, "finite and >= 0"),
        (torch.tensor([1e300, 1.0, 1.0, 1.0], dtype=torch.float64), ValueError, "1e"),
        (torch.zeros(4), ValueError, "must not be all zero"),
        (torch.full((4,), 3e38), ValueError, "sums to more than torch.float32"),
        (torch.ones(3), ValueError, r"shape \(4,\)"),
        (torch.ones(4, 1), ValueError, r"shape \(4,\)"),
        (torch.ones(4, dtype=torch.bool), TypeError, "real numbers"),
        (np.ones(4), TypeError, "torch tensor"),
        ([1.0, 1.0, 1.0, 1.0], TypeError, "torch tensor"),
    ],
)
@pytest.mark.parametrize(
    "function",
    [
        generative_cross_entropy,
        focal_loss,
        flsd53_loss,
        dual_focal_loss,
        margin_label_smoothing_loss,
    ],
)
def test_bad_sample_weight(function, weight, error, match):
    z, y = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    with pytest.raises(error, match=match):
        function(z, y, sample_weight=weight)


@pytest.mark.parametrize("bad", [3, -1])
def test_out_of_range_targets_raise_with_weights(path, bad):
    target = torch.tensor([0, 1, bad, 0])
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\)"):
        generative_cross_entropy(
            torch.randn(4, 3), target, sample_weight=torch.tensor([1.0, 1, 0, 1])
        )


def test_weights_are_constants():
    z = torch.randn(6, 3, requires_grad=True)
    w = torch.rand(6, requires_grad=True)
    loss = generative_cross_entropy(
        z, torch.tensor([0, 1, 2, 0, 1, 2]), sample_weight=w
    )
    loss.backward()
    assert w.grad is None and torch.isfinite(z.grad).all()


def test_criteria_take_sample_weight():
    z, y = torch.randn(16, 4), torch.randint(0, 4, (16,))
    w = torch.rand(16)
    torch.testing.assert_close(
        GCELoss(reg_weight=0.5)(z, y, w),
        generative_cross_entropy(z, y, reg_weight=0.5, sample_weight=w),
    )
    torch.testing.assert_close(
        MbLSLoss(reduction="sum")(z * 20, y, sample_weight=w),
        margin_label_smoothing_loss(z * 20, y, sample_weight=w, reduction="sum"),
    )


# --- baseline losses ---


def _ref_log_pt(z, y):
    log_p = z - logsumexp(z, axis=1, keepdims=True)
    return log_p, log_p[np.arange(len(y)), y]


def test_focal_loss_matches_reference():
    z_np, y_np = _random_problem(30, 5, 2.0, seed=2)
    _, log_pt = _ref_log_pt(z_np, y_np)
    expected = -((1 - np.exp(log_pt)) ** 3) * log_pt
    actual = focal_loss(torch.tensor(z_np), torch.tensor(y_np), reduction="none")
    np.testing.assert_allclose(actual.numpy(), expected, rtol=1e-12)


def test_focal_loss_with_zero_gamma_is_cross_entropy():
    z = torch.randn(20, 4, dtype=torch.float64)
    y = torch.randint(0, 4, (20,))
    torch.testing.assert_close(focal_loss(z, y, gamma=0.0), F.cross_entropy(z, y))


def test_flsd53_switches_gamma_at_0_2():
    # p_t = 0.1 -> gamma 5, p_t = 0.5 -> gamma 3
    z = torch.log(torch.tensor([[0.1, 0.9], [0.5, 0.5]], dtype=torch.float64))
    y = torch.tensor([0, 0])
    expected = torch.tensor(
        [-(0.9**5) * math.log(0.1), -(0.5**3) * math.log(0.5)], dtype=torch.float64
    )
    torch.testing.assert_close(
        flsd53_loss(z, y, reduction="none"), expected, rtol=1e-12, atol=0
    )


def test_dual_focal_matches_reference():
    z_np, y_np = _random_problem(40, 6, 2.0, seed=4)
    log_p, log_pt = _ref_log_pt(z_np, y_np)
    p, pt = np.exp(log_p), np.exp(log_pt)
    pj = np.array(
        [max([q for q in row if q < t], default=0.0) for row, t in zip(p, pt)]
    )
    expected = -((1 - pt + pj) ** 5) * log_pt
    actual = dual_focal_loss(torch.tensor(z_np), torch.tensor(y_np), reduction="none")
    np.testing.assert_allclose(actual.numpy(), expected, rtol=1e-10)


def test_dual_focal_pj_is_zero_when_target_is_least_likely():
    z = torch.log(torch.tensor([[0.1, 0.3, 0.6]], dtype=torch.float64))
    loss = dual_focal_loss(z, torch.tensor([0]), gamma=2.0)
    assert loss.item() == pytest.approx(-(0.9**2) * math.log(0.1))


def _ref_mbls(z, y, margin, lam):
    """Per-sample MbLS terms and dL/dz of their sum (no ties at the maximum)."""
    n_classes = z.shape[1]
    log_p, log_pt = _ref_log_pt(z, y)
    excess = z.max(1, keepdims=True) - z - margin
    loss = -log_pt + lam * np.maximum(excess, 0.0).mean(1)
    active = (excess > 0) * lam / n_classes  # d penalty / d z_k = -1/K each
    grad = np.exp(log_p) - np.eye(n_classes)[y] - active
    grad[np.arange(len(y)), z.argmax(1)] += active.sum(1)
    return loss, grad


@pytest.mark.parametrize("margin, lam", [(10.0, 0.1), (2.0, 0.5), (0.0, 1.0)])
def test_mbls_matches_reference(margin, lam):
    z_np, y_np = _random_problem(40, 6, 5.0, seed=6)
    expected, expected_grad = _ref_mbls(z_np, y_np, margin, lam)
    assert 0 < (z_np.max(1, keepdims=True) - z_np > margin).sum() < z_np.size
    z = torch.tensor(z_np, requires_grad=True)
    loss = margin_label_smoothing_loss(
        z, torch.tensor(y_np), margin=margin, reg_weight=lam, reduction="none"
    )
    loss.sum().backward()
    np.testing.assert_allclose(loss.detach().numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(z.grad.numpy(), expected_grad, rtol=1e-10, atol=1e-14)


def test_mbls_reductions_and_criterion():
    z, y = torch.randn(20, 4) * 30, torch.randint(0, 4, (20,))
    per_sample = margin_label_smoothing_loss(z, y, reduction="none")
    criterion = MbLSLoss(margin=10, reg_weight=0.1, reduction="sum")
    assert repr(criterion) == "MbLSLoss(margin=10.0, reg_weight=0.1, reduction='sum')"
    torch.testing.assert_close(criterion(z, y), per_sample.sum())
    torch.testing.assert_close(MbLSLoss()(z, y), per_sample.mean())
    # within the margin (or without weight) it is plain cross-entropy
    torch.testing.assert_close(
        margin_label_smoothing_loss(z, y, reg_weight=0.0), F.cross_entropy(z, y)
    )
    small = torch.randn(20, 4)
    assert (small.amax(1, keepdim=True) - small).max() < 10
    torch.testing.assert_close(
        margin_label_smoothing_loss(small, y), F.cross_entropy(small, y)
    )


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"margin": -1.0}, ValueError, "margin must be finite and >= 0"),
        ({"margin": float("nan")}, ValueError, "margin"),
        ({"margin": "10"}, TypeError, "margin must be a real number"),
        ({"reg_weight": -0.1}, ValueError, "reg_weight must be finite and >= 0"),
        ({"reg_weight": float("inf")}, ValueError, "reg_weight"),
        ({"reduction": "avg"}, ValueError, "reduction must be one of"),
    ],
)
def test_mbls_bad_parameters(kwargs, error, match):
    z, y = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    with pytest.raises(error, match=match):
        margin_label_smoothing_loss(z, y, **kwargs)
    with pytest.raises(error, match=match):
        MbLSLoss(**kwargs)


@pytest.mark.parametrize(
    "function", [focal_loss, flsd53_loss, dual_focal_loss, margin_label_smoothing_loss]
)
@pytest.mark.parametrize(
    "logits, target, error, match",
    [
        (torch.randn(4), torch.tensor([0, 1, 2, 0]), ValueError, "n_samples"),
        (torch.randn(4, 3), torch.tensor([0, 1, 2]), ValueError, "target must have"),
        (torch.randn(0, 3), torch.tensor([], dtype=torch.long), ValueError, "empty"),
        (torch.randn(4, 3), torch.tensor([0, 1, 3, 0]), ValueError, r"\[0, 3\)"),
        (torch.randn(4, 3), torch.tensor([0.0, 1, 2, 0]), TypeError, "class indices"),
        (np.zeros((4, 3)), torch.tensor([0, 1, 2, 0]), TypeError, "torch tensors"),
    ],
)
def test_baselines_reject_bad_inputs(function, logits, target, error, match):
    with pytest.raises(error, match=match):
        function(logits, target)


@pytest.mark.parametrize(
    "criterion",
    [FocalLoss(), FLSD53Loss(), DualFocalLoss(), MbLSLoss(), GCELoss(reg_weight=0.5)],
)
def test_baseline_criteria_train_and_stay_finite(criterion):
    z = (torch.randn(64, 10) * 1e4).requires_grad_()
    y = torch.randint(0, 10, (64,))
    loss = criterion(z, y)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()


BASELINES = {
    "focal": focal_loss,
    "flsd53": flsd53_loss,
    "dual_focal": dual_focal_loss,
    "mbls": lambda z, y, **kw: margin_label_smoothing_loss(z, y, margin=2.0, **kw),
}


@pytest.mark.parametrize("name", BASELINES)
def test_baselines_weight_their_terms(name):
    function = BASELINES[name]
    z_np, y_np = _random_problem(30, 5, 3.0, seed=7)
    w_np = _random_weights(30, seed=7)
    z, y, w = torch.tensor(z_np), torch.tensor(y_np), torch.tensor(w_np)
    terms = function(z, y, reduction="none").numpy()
    for reduction, expected in [
        ("mean", (w_np * terms).sum() / w_np.sum()),
        ("sum", (w_np * terms).sum()),
        ("none", w_np * terms),
    ]:
        actual = function(z, y, sample_weight=w, reduction=reduction)
        np.testing.assert_allclose(actual.numpy(), expected, rtol=1e-12)
    # integer weights are repeated samples; unit weights change nothing
    counts = np.random.default_rng(7).integers(0, 3, 30)
    rows = np.repeat(np.arange(30), counts)
    repeated = function(torch.tensor(z_np[rows]), torch.tensor(y_np[rows]))
    weighted = function(z, y, sample_weight=torch.tensor(counts))
    assert weighted.item() == pytest.approx(repeated.item(), rel=1e-12)
    assert function(z, y, sample_weight=torch.ones(30)).item() == pytest.approx(
        function(z, y).item(), rel=1e-14
    )


@pytest.mark.parametrize("cls", [FocalLoss, DualFocalLoss])
def test_baseline_criteria_validate_gamma(cls):
    with pytest.raises(ValueError, match="gamma"):
        cls(gamma=-1.0)
    assert "gamma=2.0" in repr(cls(gamma=2.0))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("batch, n_classes", [(128, 10), (1024, 1000)])
def test_cuda_matches_cpu(batch, n_classes):
    z_np, y_np = _random_problem(batch, n_classes, 3.0, seed=8)
    values, grads = [], []
    for device in ("cpu", "cuda"):
        z = torch.tensor(z_np, device=device, requires_grad=True)
        loss = generative_cross_entropy(z, torch.tensor(y_np, device=device))
        loss.backward()
        values.append(loss.item())
        grads.append(z.grad.cpu().numpy())
    assert abs(values[0] - values[1]) < 1e-10
    assert _rel_err(grads[1], grads[0]) < 1e-9


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_bf16_autocast():
    layer = torch.nn.Linear(8, 4).cuda()
    x = torch.randn(256, 8, device="cuda") * 50
    y = torch.randint(0, 4, (256,), device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        logits = layer(x)
        loss = GCELoss()(logits, y)
    loss.backward()
    assert loss.dtype == torch.float32 and torch.isfinite(loss)
    expected = _ref_gce(logits.detach().double().cpu().numpy(), y.cpu().numpy(), 1.0)
    assert abs(loss.item() - expected.mean()) < 1e-5 * max(1.0, abs(expected.mean()))


def test_docstring_examples():
    import doctest

    from sklearn_gce import losses as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize("bad", [3, -1, -100])
@pytest.mark.parametrize("reg_weight", [0.0, 0.5, 1.0])
def test_out_of_range_targets_raise_on_every_path(path, bad, reg_weight):
    target = torch.tensor([0, 1, bad, 0])
    with pytest.raises(ValueError, match=r"class indices in \[0, 3\)"):
        generative_cross_entropy(torch.randn(4, 3), target, reg_weight=reg_weight)


def test_reg_weight_above_one_warns_that_the_loss_is_unbounded():
    with pytest.warns(UserWarning, match="unbounded below"):
        criterion = GCELoss(reg_weight=1.5)
    # and it is: the more every sample bets on a class no sample has, the lower
    y = torch.tensor([0, 0, 1, 1])
    losses_ = [criterion(torch.tensor([[0.0, 0.0, s]] * 4), y) for s in (5, 10, 20)]
    assert losses_[0] > losses_[1] > losses_[2] + 4
    # at reg_weight=1 it is bounded below by -log B
    bounded = GCELoss()
    assert all(
        bounded(torch.tensor([[0.0, 0.0, s]] * 4), y) >= -math.log(4) for s in (5, 20)
    )
