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

