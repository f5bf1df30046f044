"""Non-saturating logistic GAN loss with lazy R1 regularisation (stable on small data sets)."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log sigmoid(D(G(z))): strong gradients even while D rejects every fake."""
    return F.softplus(-fake_logits).mean()


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    return F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()


def r1_penalty(real_logits: torch.Tensor, real_images: torch.Tensor) -> torch.Tensor:
    """Mean squared gradient norm of D at the real images.

    Penalising it keeps D smooth on the data, the main guard against divergence on a few dozen
    images. ``real_images`` must have ``requires_grad`` set before D saw them.
    """
    (grad,) = torch.autograd.grad(outputs=real_logits.sum(), inputs=real_images, create_graph=True)
    return grad.square().sum(dim=(1, 2, 3)).mean()


def lecam_penalty(real_logits: torch.Tensor, fake_logits: torch.Tensor, *, anchor_real: float,
                  anchor_fake: float) -> torch.Tensor:
    """LeCam regularisation (Tseng et al., CVPR 2021), for D on limited data.

    Pulls D's score on reals down toward the running mean of its scores on fakes, and its score on fakes
    up toward the running mean on reals, only where a score lies past that anchor (squared hinge). This bounds
    how far apart D can push the two sets, the over-confidence that makes D memorise a small training set.
    The anchors are plain numbers (no gradient); the caller keeps their running means.
    """
    return (F.relu(real_logits - anchor_fake).square().mean()
            + F.relu(anchor_real - fake_logits).square().mean())
