"""The pose prior (``lasor.fit.prior``): GMM by EM, gradients, the shipped parameters."""

from __future__ import annotations

import numpy as np
import torch

from lasor.fit.prior import PosePrior, fit_gmm, load_pose_prior


def test_shipped_prior_matches_anny_bones():
    from lasor.body.anny_body import ANNY_POSE_BONES

    p = load_pose_prior()
    assert p.bone_names == list(ANNY_POSE_BONES)
    k, d = p.means.shape
    assert d == 3 * len(ANNY_POSE_BONES) and p.prec_chol.shape == (k, d, d)
    assert torch.isclose(p.weights.sum(), torch.tensor(1.0, dtype=torch.float64))
    assert bool((p.lower < p.upper).all())
    # the mixture prefers its own means to a far-off pose, and the limits hold there
    far = p.means[:1] + 2.5
    assert bool((p.nll(p.means) < p.nll(far)).all())
    assert float(p.limits(p.means[:1])) == 0.0 and float(p.limits(far)) > 0.0


def test_prior_gradients_match_finite_differences():
    p = load_pose_prior()
    g = torch.Generator().manual_seed(0)
    x = p.means[:2] + 0.3 * torch.randn(2, p.means.shape[1], generator=g, dtype=torch.float64)
    x = x.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(p.nll, (x,), eps=1e-6, atol=1e-5)
    wide = (p.upper + 0.2).expand(2, -1).clone().requires_grad_(True)
    assert torch.autograd.gradcheck(p.limits, (wide,), eps=1e-6, atol=1e-5)


def test_em_recovers_a_two_component_mixture():
    rng = np.random.default_rng(0)
    a = rng.normal([0.0, 0.0], 0.1, (600, 2))
    b = rng.normal([2.0, -1.0], [0.3, 0.05], (400, 2))
    w, mu, pc, hist = fit_gmm(np.concatenate([a, b]), k=2, iters=50, reg=1e-6)
    order = np.argsort(mu[:, 0])
    np.testing.assert_allclose(mu[order], [[0.0, 0.0], [2.0, -1.0]], atol=0.05)
    np.testing.assert_allclose(w[order], [0.6, 0.4], atol=0.03)
    cov = np.linalg.inv(pc[order[1]] @ pc[order[1]].T)
    np.testing.assert_allclose(np.sqrt(np.diag(cov)), [0.3, 0.05], rtol=0.15)
    assert all(h2 >= h1 - 1e-9 for h1, h2 in zip(hist, hist[1:], strict=False))  # EM ascends
    prior = PosePrior(*(torch.from_numpy(v) for v in (w, mu, pc)), torch.full((2,), -9.0),
                      torch.full((2,), 9.0), ["a"])  # fmt: skip
    nll = prior.nll(torch.tensor([[0.0, 0.0], [1.0, -0.5]], dtype=torch.float64))
    assert float(nll[0]) < float(nll[1])
