"""Command-line training entry point, single process or multi-process under torchrun.

    torchrun --nproc_per_node=2 -m generative.training.ddp_main --data images.pt --run-dir runs/a \
        --resolution 64 --until-kimg 200

Each process picks its own device (GPU `LOCAL_RANK` when CUDA exists, else CPU with Gloo); nothing
touches CUDA before the process group exists, so torchrun's workers own their GPUs.
`--data` is a tensor file saved with torch.save (uint8 [N, C, H, W]) or a folder of images.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from PIL import Image

from generative.training.checkpoint import list_checkpoints
from generative.training.config import TrainConfig
from generative.training.data import DatasetError
from generative.training.trainer import Progress, Trainer

_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}


def load_images(path: Path, *, resolution: int) -> torch.Tensor:
    """uint8 [N, 3, res, res] from a saved tensor or from the images in a folder (centre-cropped)."""
    path = Path(path)
    if path.is_file():
        data = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(data, torch.Tensor):
            raise DatasetError(f"{path} holds a {type(data).__name__}; expected a uint8 image tensor")
        return data
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES) if path.is_dir() else []
    if not files:
        raise DatasetError(f"{path} is neither a tensor file nor a folder with images")
    images = []
    for file in files:
        with Image.open(file) as im:
            im = im.convert("RGB")
            side = min(im.size)
            left, top = (im.width - side) // 2, (im.height - side) // 2
            im = im.crop((left, top, left + side, top + side)).resize((resolution, resolution), Image.LANCZOS)
            images.append(torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1))
    return torch.stack(images)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--run-dir", type=Path, required=True)
    parser.add_argument("--until-kimg", type=float, required=True)
    parser.add_argument("--resolution", type=int, default=64, help="used when --config is not given")
    parser.add_argument("--config", type=Path, help="JSON of TrainConfig.to_dict(); overrides --resolution")
    parser.add_argument("--device", help="cpu, cuda, cuda:1 ...; default: automatic")
    return parser.parse_args(argv)


def _print_progress(progress: Progress) -> None:
    if progress.event != "step" or progress.step % 50 == 0:
        eta = f"{progress.eta_s:.0f}s" if progress.eta_s is not None else "?"
        print(f"{progress.event} step {progress.step} kimg {progress.kimg:.3f}/{progress.until_kimg:.3f} "
              f"{progress.images_per_s:.1f} img/s eta {eta} G {progress.loss_g:.3f} D {progress.loss_d:.3f} "
              f"p {progress.augment_p:.3f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed:
        use_cuda = torch.cuda.is_available() and (args.device is None or args.device.startswith("cuda"))
        if use_cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    try:
        if args.config is not None:
            config = TrainConfig.from_dict(json.loads(args.config.read_text()))
        else:
            config = TrainConfig.default(args.resolution)
        data = load_images(args.data, resolution=config.gan.resolution)
        common = {"dataset": data, "device": args.device, "on_progress": _print_progress}
        if list_checkpoints(args.run_dir):
            trainer = Trainer.resume(args.run_dir, **common)
        else:
            trainer = Trainer(config=config, run_dir=args.run_dir, **common)
        trainer.train(until_kimg=args.until_kimg)
    finally:
        if distributed:
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
