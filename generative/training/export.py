"""Export G_ema from a checkpoint for inference: TorchScript always, ONNX when `onnx` is installed.

The exported forward is ``(z [N, z_dim] float, labels [N] int64, truncation_psi [] float)
-> images [N, C, H, W] float in about [-1, 1]``. Unconditional models ignore `labels` (pass zeros;
the ONNX graph of an unconditional model has no `labels` input at all).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from generative.nn.config import GANConfig
from generative.nn.generator import Generator
from generative.training.checkpoint import load_checkpoint
from generative.training.config import TrainConfig


class InferenceGenerator(nn.Module):
    """G_ema with truncation as a tensor input, so one traced graph serves every psi."""

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        self.generator = generator
        self.conditional = generator.num_classes > 0

    def forward(self, z: torch.Tensor, labels: torch.Tensor, truncation_psi: torch.Tensor) -> torch.Tensor:
        ws = self.generator.mapping(z, labels if self.conditional else None)
        ws = self.generator.mapping.w_avg.lerp(ws, truncation_psi.to(ws.dtype))
        return self.generator.synthesis(ws)


def generator_from_checkpoint(checkpoint: Path, *, which: str = "G_ema") -> Generator:
    state = load_checkpoint(checkpoint)
    config: GANConfig = TrainConfig.from_dict(state["config"]).gan
    generator = Generator(config)
    generator.load_state_dict(state[which])
    return generator.eval().requires_grad_(False)


def export_generator(*, checkpoint: Path, path: Path) -> Path:
    """Trace G_ema of `checkpoint` into a TorchScript file at `path` (loadable with torch.jit.load)."""
    generator = generator_from_checkpoint(checkpoint)
    module = InferenceGenerator(generator).eval()
    cfg = generator.config
    example = (torch.randn(2, cfg.z_dim), torch.zeros(2, dtype=torch.long), torch.tensor(1.0))
    with warnings.catch_warnings():
        # Tracing warns about the shape checks at module boundaries: they hold for every batch size.
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(module, example, check_trace=False)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        traced.save(str(path))
    return path


class ExportError(RuntimeError):
    """An export format that cannot be produced here."""


def export_generator_onnx(*, checkpoint: Path, path: Path) -> Path:
    """G_ema of `checkpoint` as an ONNX file (opset 17, dynamic batch); needs the `onnx` package."""
    try:
        import onnx  # noqa: F401  (the TorchScript-based exporter needs it to serialise)
    except ImportError as exc:
        raise ExportError(f"ONNX export of {checkpoint} needs the 'onnx' package, which is not installed") from exc
    generator = generator_from_checkpoint(checkpoint)
    module = InferenceGenerator(generator).eval()
    example = (torch.randn(2, generator.config.z_dim), torch.zeros(2, dtype=torch.long), torch.tensor(1.0))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    batch = {0: "batch"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, example, str(path), dynamo=False, opset_version=17,
                          input_names=["z", "labels", "truncation_psi"], output_names=["images"],
                          dynamic_axes={"z": batch, "labels": batch, "images": batch})
    return path
