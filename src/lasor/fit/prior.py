"""Pose prior for fitting: a Gaussian mixture over bone rotations plus joint limits.

As SMPLify (Bogo et al., ECCV 2016): the body pose as the concatenated axis-angle vectors of the
``P`` pose bones, ``x (B, 3P)``, scored by a ``K``-component full-covariance Gaussian mixture
fitted by EM to the mocap pose bank (``scripts/build_pose_prior.py``; the bank's ``train``
split, mirrored). Unlike SMPLify's max-component approximation, the energy is the exact
negative log-likelihood (log-sum-exp over components), which is smooth everywhere.

Joint limits: per axis-angle component, the 0.5 / 99.5 percentiles of the same poses, widened
by ``LIMIT_MARGIN`` radians; outside them a quadratic penalty. The shipped parameters live in
``lasor/data/pose_prior.npz`` (derived statistics only, no poses).
"""

from __future__ import annotations

import importlib.resources
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = ["PosePrior", "default_prior_path", "fit_gmm", "load_pose_prior"]

LIMIT_MARGIN = 0.1


def default_prior_path() -> Path:
    return Path(str(importlib.resources.files("lasor.data") / "pose_prior.npz"))


@dataclass
class PosePrior:
    """GMM pose prior and joint limits (all tensors float64 unless cast with :meth:`to`).

    Attributes:
        weights: (K,) mixture weights.
        means: (K, D) component means (D = 3 x pose bones, axis-angle, radians).
        prec_chol: (K, D, D) lower Cholesky factors ``L`` of the precisions (``P = L L^T``).
        lower, upper: (D,) joint limits per axis-angle component.
        bone_names: the pose bones, in order.
    """

    weights: torch.Tensor
    means: torch.Tensor
    prec_chol: torch.Tensor
    lower: torch.Tensor
    upper: torch.Tensor
    bone_names: list[str]

    def to(self, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu"):
        kw = {"dtype": dtype, "device": device}
        return PosePrior(
            self.weights.to(**kw), self.means.to(**kw), self.prec_chol.to(**kw),
            self.lower.to(**kw), self.upper.to(**kw), list(self.bone_names),
        )  # fmt: skip

    def nll(self, pose_aa: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of poses under the mixture, minus its minimum over components
        of the log normaliser (so typical poses score O(D)).

        Args:
            pose_aa: (B, P, 3) or (B, D) axis-angle body poses.

        Returns:
            (B,) energies.
        """
        x = pose_aa.reshape(pose_aa.shape[0], -1)
        d = x[:, None, :] - self.means[None]  # (B, K, D)
        # Mahalanobis: || L^T d ||^2
        y = torch.einsum("kij,bki->bkj", self.prec_chol, d)
        maha = (y * y).sum(-1)  # (B, K)
        log_det = torch.log(torch.diagonal(self.prec_chol, dim1=-2, dim2=-1)).sum(-1)  # (K,)
        log_norm = torch.log(self.weights) + log_det
        log_p = log_norm[None] - 0.5 * maha
        return log_norm.max() - torch.logsumexp(log_p, dim=1)

    def limits(self, pose_aa: torch.Tensor) -> torch.Tensor:
        """(B,) sum of squared excursions (radians^2) outside the joint limits."""
        x = pose_aa.reshape(pose_aa.shape[0], -1)
        lo = torch.relu(self.lower - x)
        hi = torch.relu(x - self.upper)
        return (lo * lo + hi * hi).sum(-1)

    def save(self, path: Path) -> None:
        np.savez_compressed(
            path, weights=self.weights.numpy(), means=self.means.numpy(),
            prec_chol=self.prec_chol.numpy(), lower=self.lower.numpy(),
            upper=self.upper.numpy(), bone_names=np.array(self.bone_names),
        )  # fmt: skip


def load_pose_prior(path: str | Path | None = None) -> PosePrior:
    """Read the prior (default: the one shipped with lasor)."""
    path = Path(path) if path is not None else default_prior_path()
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: no pose prior (build it with scripts/build_pose_prior.py)"
        )
    with np.load(path, allow_pickle=False) as z:
        t = {k: torch.from_numpy(z[k].astype(np.float64)) for k in z.files if k != "bone_names"}
        return PosePrior(
            t["weights"], t["means"], t["prec_chol"], t["lower"], t["upper"],
            [str(b) for b in z["bone_names"]],
        )  # fmt: skip


def _log_gauss(x: np.ndarray, mean: np.ndarray, prec_chol: np.ndarray) -> np.ndarray:
    y = (x - mean) @ prec_chol
    return (
        -0.5 * (y * y).sum(1)
        + np.log(np.diag(prec_chol)).sum()
        - 0.5 * x.shape[1] * math.log(2 * math.pi)
    )


def fit_gmm(
    x: np.ndarray, k: int = 8, iters: int = 60, reg: float = 1e-3, seed: int = 0, tol: float = 1e-5
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[float]]:
    """Full-covariance Gaussian mixture by EM (k-means++ style seeding), in numpy.

    Args:
        x: (N, D) samples.
        k: components.
        iters: maximum EM iterations.
        reg: added to every covariance's diagonal.
        seed: seeding randomness.
        tol: stop when the mean log-likelihood improves by less.

    Returns:
        (weights (K,), means (K, D), prec_chol (K, D, D), mean log-likelihood per iteration).
    """
    rng = np.random.default_rng(seed)
    n, d = x.shape
    centres = [x[rng.integers(n)]]
    for _ in range(1, k):
        d2 = np.min([((x - c) ** 2).sum(1) for c in centres], axis=0)
        centres.append(x[rng.choice(n, p=d2 / d2.sum())])
    means = np.stack(centres)
    resp = np.zeros((n, k))
    resp[np.arange(n), np.argmin(((x[:, None] - means[None]) ** 2).sum(-1), 1)] = 1.0
    history: list[float] = []
    prec_chol = np.zeros((k, d, d))
    weights = np.full(k, 1.0 / k)
    for _ in range(iters):
        # M step
        nk = resp.sum(0) + 1e-10
        weights = nk / n
        means = (resp.T @ x) / nk[:, None]
        for j in range(k):
            dx = x - means[j]
            cov = (resp[:, j, None] * dx).T @ dx / nk[j] + reg * np.eye(d)
            c = np.linalg.cholesky(cov)
            prec_chol[j] = np.linalg.inv(c).T  # P = C^-T C^-1 = L L^T with L = C^-T
        # E step
        logp = np.stack([_log_gauss(x, means[j], prec_chol[j]) for j in range(k)], 1)
        logp += np.log(weights)[None]
        m = logp.max(1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(logp - m).sum(1))
        resp = np.exp(logp - lse[:, None])
        history.append(float(lse.mean()))
        if len(history) > 1 and history[-1] - history[-2] < tol:
            break
    return weights, means, prec_chol, history
