"""S-CLIP caption-level pseudo-labels: entropic optimal transport to the paired rows.

S-CLIP (Mo et al., NeurIPS 2023) trains on unpaired A rows by giving each of them a soft
target over the step's paired B rows. With unpaired A embeddings ``u`` (U, d) and paired
embeddings ``a``, ``b`` (P, d), all L2-normalised:

1. ``C = 1 - u @ a^T`` (cosine cost, U x P) and ``T = sinkhorn(C, eps)``, the entropic OT plan
   with uniform marginals ``1/U`` (rows) and ``1/P`` (columns);
2. targets ``Q_ij = T_ij / sum_j T_ij`` (row i's plan as a distribution over the pairs);
   gradients flow through the Sinkhorn iterations into them, as in S-CLIP's code (POT's
   torch backend), unless ``detach_targets`` makes them fixed;
3. ``L = -(1/U) sum_i sum_j Q_ij log softmax_j(scale * u_i . b_j)``.

The defaults are those of S-CLIP's code (alinlab/s-clip, ``custom/loss.py``): ``epsilon``
equal to the CLIP temperature (0.05), 10 Sinkhorn iterations, targets not detached.

The OT coupling (rather than a per-row softmax) spreads the unpaired rows over all pairs, so
no single paired caption absorbs every pseudo-label. Sinkhorn runs a fixed number of
iterations (scaling form in float64, or the log domain when the kernel would underflow); the
last update matches the column marginals exactly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gentleclip.errors import InputError
from gentleclip.losses.distributed import gather_with_grad
from gentleclip.losses.functional import _check_matrix, _check_positive, _check_same_dim

__all__ = [
    "PseudoLabelLoss",
    "pseudo_label_loss",
    "sinkhorn_plan",
    "sinkhorn_plan_log",
    "soft_cross_entropy",
]


# The scaling form needs exp(-(max C - min C) / epsilon) far above float64's underflow (~1e-308).
SCALING_LIMIT = 600.0


def sinkhorn_plan(cost: Tensor, *, epsilon: float | Tensor = 0.1, iterations: int = 50) -> Tensor:
    """Entropic OT plan (M, N) for ``cost`` (M, N) with uniform marginals ``1/M`` and ``1/N``.

    Sinkhorn's iterations with ``K = exp(-cost / epsilon)``, starting from ``v = 1``:
    ``u = (1/M) / (K v)``, then ``v = (1/N) / (K^T u)``, ``iterations`` times; the plan is
    ``u_i K_ij v_j``. Columns sum to ``1/N`` exactly, rows to ``1/M`` up to the convergence of
    the iterations. ``epsilon`` may be a positive scalar tensor (S-CLIP's ``1 / logit_scale``,
    a learned temperature): gradients then flow into it. When
    ``(max cost - min cost) / epsilon <= SCALING_LIMIT`` this runs in
    that scaling form in float64 (``K`` shifted by ``min cost``, which cancels in the plan);
    otherwise in the log domain (:func:`sinkhorn_plan_log`), the same iterates without
    underflow, several times slower on small matrices.

    Example:
        >>> plan = sinkhorn_plan(torch.rand(3, 4))
        >>> bool(torch.allclose(plan.sum(0), torch.full((4,), 0.25)))
        True
    """
    value = _check_sinkhorn_args(cost, epsilon, iterations)
    if float((cost.max() - cost.min()).detach()) / value > SCALING_LIMIT:
        return _log_domain_plan(cost, epsilon, iterations)
    m, n = cost.shape
    c = cost.to(torch.float64)
    eps = epsilon.to(torch.float64) if isinstance(epsilon, Tensor) else epsilon
    kernel = torch.exp((c.min() - c) / eps)
    row_kernel = kernel * m  # u = 1 / ((M K) v)
    col_kernel = (kernel.T * n).contiguous()  # v = 1 / ((N K^T) u)
    v = torch.ones(n, dtype=torch.float64, device=cost.device)
    for _ in range(iterations):
        u = torch.mv(row_kernel, v).reciprocal_()
        v = torch.mv(col_kernel, u).reciprocal_()
    return (u[:, None] * kernel * v[None, :]).to(cost.dtype)


def sinkhorn_plan_log(
    cost: Tensor, *, epsilon: float | Tensor = 0.1, iterations: int = 50
) -> Tensor:
    """:func:`sinkhorn_plan` in the log domain, for any ``epsilon``.

    With ``log K = -cost / epsilon``, alternately
    ``f = -log M - logsumexp_j(log K_ij + g_j)`` and ``g = -log N - logsumexp_i(log K_ij + f_i)``
    for ``iterations`` rounds, starting from ``g = 0``; the plan is ``exp(log K_ij + f_i + g_j)``
    (``f = log u``, ``g = log v`` of the scaling form).
    """
    _check_sinkhorn_args(cost, epsilon, iterations)
    return _log_domain_plan(cost, epsilon, iterations)


def _log_domain_plan(cost: Tensor, epsilon: float | Tensor, iterations: int) -> Tensor:
    """The iterations of :func:`sinkhorn_plan_log` on already validated arguments."""
    m, n = cost.shape
    log_k = -cost / epsilon
    g = torch.zeros(n, dtype=cost.dtype, device=cost.device)
    for _ in range(iterations):
        f = -math.log(m) - torch.logsumexp(log_k + g[None, :], dim=1)
        g = -math.log(n) - torch.logsumexp(log_k + f[:, None], dim=0)
    return torch.exp(log_k + f[:, None] + g[None, :])


def _check_sinkhorn_args(cost: Tensor, epsilon: float | Tensor, iterations: int) -> float:
    """Validate the Sinkhorn arguments; return ``epsilon``'s value as a float."""
    _check_matrix(cost, "cost")
    value = _check_epsilon(epsilon)
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise InputError(f"iterations must be an integer >= 1, got {iterations!r}")
    return value


def _check_epsilon(epsilon: float | Tensor) -> float:
    """``epsilon`` (a number or a one-element tensor) as a float; InputError unless > 0."""
    if isinstance(epsilon, Tensor):
        if epsilon.numel() != 1:
            raise InputError(f"epsilon must be a scalar, got shape {tuple(epsilon.shape)}")
        epsilon = float(epsilon.detach())
    return _check_positive(epsilon, "epsilon")


def soft_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """``-(1/N) sum_i sum_j targets_ij * log_softmax(logits_i)_j`` for (N, C) inputs."""
    _check_matrix(logits, "logits")
    if targets.shape != logits.shape:
        raise InputError(
            f"targets must match logits, got {tuple(targets.shape)} vs {tuple(logits.shape)}"
        )
    return -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def pseudo_label_loss(
    unpaired_a: Tensor,
    pair_a: Tensor,
    pair_b: Tensor,
    *,
    temperature: float = 0.05,
    logit_scale: Tensor | None = None,
    epsilon: float | Tensor = 0.05,
    iterations: int = 10,
    detach_targets: bool = False,
) -> Tensor:
    """S-CLIP pseudo-label loss (module docstring) of ``unpaired_a`` (U, d) against the pairs.

    ``pair_a``, ``pair_b`` (P, d) are matched rows (P >= 2); the logit multiplier is
    ``logit_scale`` when given, else ``1 / temperature``. Gradients flow into ``unpaired_a``
    and ``pair_b`` through the logits and, through the Sinkhorn iterations of the targets,
    into ``unpaired_a`` and ``pair_a`` (as in S-CLIP's code, POT's torch backend), and into
    ``epsilon`` when it is a tensor (S-CLIP's ``1 / logit_scale``). With ``detach_targets``
    the targets are computed without gradient; the value is the same.
    """
    _check_matrix(unpaired_a, "unpaired_a")
    _check_matrix(pair_a, "pair_a", min_rows=2)
    _check_matrix(pair_b, "pair_b", min_rows=2)
    _check_same_dim(unpaired_a, pair_a, "unpaired_a and pair_a")
    _check_same_dim(pair_a, pair_b, "pair_a and pair_b")
    if pair_a.shape[0] != pair_b.shape[0]:
        raise InputError(
            f"pair_a and pair_b must have the same rows, got {pair_a.shape[0]} vs {pair_b.shape[0]}"
        )
    scale = (
        logit_scale
        if logit_scale is not None
        else 1.0 / _check_positive(temperature, "temperature")
    )
    with torch.set_grad_enabled(torch.is_grad_enabled() and not detach_targets):
        plan = sinkhorn_plan(1.0 - unpaired_a @ pair_a.T, epsilon=epsilon, iterations=iterations)
        targets = plan / plan.sum(dim=1, keepdim=True)
    return soft_cross_entropy((unpaired_a @ pair_b.T) * scale, targets)


class PseudoLabelLoss(nn.Module):
    """Module twin of :func:`pseudo_label_loss` (S-CLIP caption-level pseudo-labels).

    With ``gather_distributed`` the unpaired rows and the pairs are gathered across ranks
    first, so every rank computes the loss of the global step. With ``epsilon_from_scale``
    Sinkhorn's epsilon is ``1 / logit_scale`` at every call, as in S-CLIP's code (``reg = 1 /
    logit_scale``, the learned temperature, gradients included), or ``temperature`` when no
    ``logit_scale`` is given; ``epsilon`` is then unused.

    Example:
        >>> u = torch.nn.functional.normalize(torch.randn(5, 8), dim=1)
        >>> p = torch.nn.functional.normalize(torch.randn(3, 8), dim=1)
        >>> PseudoLabelLoss()(u, p, p).shape
        torch.Size([])
    """

    def __init__(
        self,
        *,
        temperature: float = 0.05,
        epsilon: float = 0.05,
        iterations: int = 10,
        detach_targets: bool = False,
        epsilon_from_scale: bool = False,
        gather_distributed: bool = False,
    ) -> None:
        super().__init__()
        self.detach_targets = bool(detach_targets)
        self.epsilon_from_scale = bool(epsilon_from_scale)
        self.temperature = _check_positive(temperature, "temperature")
        self.epsilon = _check_positive(epsilon, "epsilon")
        if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
            raise InputError(f"iterations must be an integer >= 1, got {iterations!r}")
        self.iterations = iterations
        self.gather_distributed = bool(gather_distributed)

    def forward(
        self, unpaired_a: Tensor, pair_a: Tensor, pair_b: Tensor, logit_scale: Tensor | None = None
    ) -> Tensor:
        """Loss of unpaired A rows (U, d) against pairs (P, d); optional shared logit scale."""
        if self.gather_distributed:
            unpaired_a, pair_a, pair_b = (gather_with_grad(x) for x in (unpaired_a, pair_a, pair_b))
        epsilon: float | Tensor = self.epsilon
        if self.epsilon_from_scale:
            epsilon = self.temperature if logit_scale is None else 1.0 / logit_scale
        return pseudo_label_loss(
            unpaired_a,
            pair_a,
            pair_b,
            temperature=self.temperature,
            logit_scale=logit_scale,
            epsilon=epsilon,
            iterations=self.iterations,
            detach_targets=self.detach_targets,
        )

    def extra_repr(self) -> str:
        """Hyper-parameters shown by ``repr``."""
        return (
            f"temperature={self.temperature}, epsilon={self.epsilon}, "
            f"iterations={self.iterations}, detach_targets={self.detach_targets}, "
            f"epsilon_from_scale={self.epsilon_from_scale}, "
            f"gather_distributed={self.gather_distributed}"
        )
