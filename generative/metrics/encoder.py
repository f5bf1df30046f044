"""The in-house feature encoder that KID and precision/recall measure in, and its training.

Nothing is downloaded: the encoder is a small convolutional network trained on the library's own
images with a contrastive objective (two augmented views of an image should map close together and
away from the other images in the batch). A saved encoder carries its config, a version string and
the sha256 of its weights; loading recomputes the hash and refuses a file that does not match, so a
metric value can always be tied to the exact encoder that produced it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from generative.metrics.augment import two_views
from generative.metrics.errors import EncoderIntegrityError, MetricInputError, check_images

FILE_FORMAT = "brandforge-feature-encoder/1"


@dataclass(frozen=True)
class EncoderConfig:
    input_size: int = 32
    width: int = 16
    feature_dim: int = 128
    projection_dim: int = 64


class FeatureEncoder(nn.Module):
    """Images in [-1, 1] -> ``feature_dim`` features (global-pooled conv trunk); the projection head is training-only."""

    def __init__(self, *, config: EncoderConfig, name: str = "encoder") -> None:
        super().__init__()
        if config.input_size < 16 or config.input_size & (config.input_size - 1):
            raise MetricInputError(f"input_size={config.input_size} must be a power of two >= 16")
        self.config = config
        self.name = name
        w = config.width
        chans = [3, w, w * 2, w * 4, config.feature_dim]
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate(zip(chans[:-1], chans[1:], strict=True)):
            # Downsample early: the encoder must train in minutes on a shared CPU. GroupNorm keeps
            # features independent of the batch they are computed in.
            stride = 1 if i == len(chans) - 2 else 2
            layers += [nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.GroupNorm(8, cout)]
            layers.append(nn.SiLU())
        self.trunk = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Linear(config.feature_dim, config.feature_dim),
            nn.SiLU(),
            nn.Linear(config.feature_dim, config.projection_dim),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        size = self.config.input_size
        if images.shape[-1] != size or images.shape[-2] != size:
            images = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        return self.trunk(images).mean(dim=(2, 3))

    @property
    def weights_sha256(self) -> str:
        return weights_sha256(self.state_dict())

    @property
    def version(self) -> str:
        """A string that names this exact encoder in stored metric results."""
        return f"{self.name}@{self.weights_sha256[:12]}"

    @torch.no_grad()
    def features(self, images: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
        """Features of ``images`` in eval mode, batched to bound memory."""
        check_images(images, name="images")
        was_training = self.training
        self.eval()
        try:
            return torch.cat([self(images[i : i + batch_size].float()) for i in range(0, len(images), batch_size)])
        finally:
            self.train(was_training)


def weights_sha256(state: dict[str, torch.Tensor]) -> str:
    """Hash of names, dtypes, shapes and bytes, independent of the file format they were stored in."""
    digest = hashlib.sha256()
    for key in sorted(state):
        t = state[key].detach().cpu().contiguous()
        digest.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, *, temperature: float) -> torch.Tensor:
    """Normalised-temperature cross-entropy: each view must pick its partner among the other 2N-1."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / temperature
    n = z1.shape[0]
    logits.fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(logits, targets)


def train_encoder(
    images: torch.Tensor,
    *,
    config: EncoderConfig = EncoderConfig(),
    steps: int = 400,
    batch_size: int = 128,
    lr: float = 2e-3,
    temperature: float = 0.2,
    seed: int = 0,
    name: str = "encoder",
) -> tuple[FeatureEncoder, list[float]]:
    """Train an encoder on ``images`` (N, 3, H, W) in [-1, 1]; returns it (in eval mode) and the loss per step."""
    check_images(images, name="images")
    if steps < 1 or batch_size < 2:
        raise MetricInputError(f"steps={steps} and batch_size={batch_size} must be >= 1 and >= 2")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    encoder = FeatureEncoder(config=config, name=name)
    size = config.input_size
    if images.shape[-1] != size:
        images = F.interpolate(images.float(), size=(size, size), mode="bilinear", antialias=True)
    optimiser = torch.optim.AdamW(encoder.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=steps)
    batch_size = min(batch_size, len(images))
    losses: list[float] = []
    encoder.train()
    for _ in range(steps):
        idx = torch.randperm(len(images), generator=generator)[:batch_size]
        v1, v2 = two_views(images[idx], generator=generator)
        loss = nt_xent(encoder.head(encoder(v1)), encoder.head(encoder(v2)), temperature=temperature)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
    return encoder.eval(), losses


def save_encoder(encoder: FeatureEncoder, path: Path | str) -> str:
    """Write the encoder atomically; returns its version string."""
    path = Path(path)
    payload = {
        "format": FILE_FORMAT,
        "name": encoder.name,
        "version": encoder.version,
        "config": asdict(encoder.config),
        "weights_sha256": encoder.weights_sha256,
        "state_dict": encoder.state_dict(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return encoder.version


def load_encoder(path: Path | str) -> FeatureEncoder:
    """Read an encoder saved by :func:`save_encoder`, refusing one whose weights do not match their hash."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != FILE_FORMAT:
        raise EncoderIntegrityError(f"{path} is not a {FILE_FORMAT} file")
    encoder = FeatureEncoder(config=EncoderConfig(**payload["config"]), name=payload["name"])
    encoder.load_state_dict(payload["state_dict"])
    if encoder.weights_sha256 != payload["weights_sha256"]:
        raise EncoderIntegrityError(
            f"{path}: weights hash {encoder.weights_sha256[:12]} does not match the recorded "
            f"{payload['weights_sha256'][:12]}; the file was altered or corrupted"
        )
    return encoder.eval()
