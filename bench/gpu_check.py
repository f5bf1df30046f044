"""The generative engine on a CUDA machine: what works there, how fast, and a design sweep per kimg.

Pure torch (no Django), so it runs on a bare GPU box with only PyTorch, NumPy and Pillow. Three parts,
each writing its findings to ``--out`` as soon as it has them:

1. checks (``gpu-checks.json``): the device is chosen automatically; training is deterministic
   under a seed and a checkpoint resume continues exactly (k straight steps against k/2 + resume +
   k/2, compared tensor by tensor); a checkpoint written on the GPU loads with ``weights_only=True``
   on the CPU and training resumes there; G_ema exported to TorchScript from it runs on the CPU.
2. throughput (``gpu-throughput.json``): images/s of the default 32-256 px configs and the DCGAN
   beside them, one process.
3. sweep (``sweep.log``): ``bench/quality_curves.py`` for several variants and seeds side by side
   on the one GPU, SWD/KID per kimg; a per-kimg curve does not depend on the device, so it ranks
   CPU designs in minutes instead of hours.

    python3 bench/gpu_check.py --out /tmp/gpu --data var/cache/emoji/emoji-64px-<key>.npy \\
        --encoder bench/out/gpu/curves/encoder-64.pt --sweep current:0 current:1 dcgan:0
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

# Deterministic cuBLAS needs this before CUDA initialises.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # noqa: E402

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from quality import DCGANRunner  # noqa: E402

from generative.nn.config import GANConfig  # noqa: E402
from generative.training.checkpoint import latest_checkpoint, load_checkpoint  # noqa: E402
from generative.training.config import TrainConfig  # noqa: E402
from generative.training.export import export_generator  # noqa: E402
from generative.training.trainer import Trainer, resolve_device  # noqa: E402

DEVICE = "cuda"  # --device cpu smoke-tests this script on a machine without a GPU


def _sync() -> None:
    if DEVICE.startswith("cuda"):
        torch.cuda.synchronize()


def _write(out: Path, name: str, payload: dict) -> None:
    (out / name).write_text(json.dumps(payload, indent=2, default=str))


def _max_diff(a: dict, b: dict) -> float:
    worst = 0.0
    for key in a:
        for name, tensor in a[key].items():
            if tensor.is_floating_point():
                worst = max(worst, float((tensor.float() - b[key][name].float()).abs().max()))
            elif not torch.equal(tensor, b[key][name]):
                worst = float("inf")
    return worst


def _weights(trainer: Trainer) -> dict:
    return {name: {k: v.detach().cpu().clone() for k, v in getattr(trainer, name).state_dict().items()}
            for name in ("G", "D", "G_ema")}


def checks(out: Path, data: torch.Tensor) -> dict:
    results: dict = {"torch": torch.__version__, "cuda": torch.version.cuda,
                     "device_name": torch.cuda.get_device_name(0) if DEVICE.startswith("cuda") else "cpu"}

    def record(name: str, fn) -> None:
        start = time.perf_counter()
        try:
            results[name] = {"ok": True, **fn()}
        except Exception as exc:  # noqa: BLE001 - a report: every check runs, each failure is written down
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                             "traceback": traceback.format_exc()[-2000:]}
        results[name]["seconds"] = round(time.perf_counter() - start, 2)
        _write(out, "gpu-checks.json", results)
        print(name, json.dumps({k: v for k, v in results[name].items() if k != "traceback"}), flush=True)

    record("auto_device", lambda: {"resolved": str(resolve_device(None))})

    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)
    config = TrainConfig(gan=GANConfig.default(32), batch_size=16, checkpoint_kimg=1e6, seed=3, r1_interval=4)
    steps = 12

    def straight_and_resumed() -> dict:
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            straight = Trainer(config=config, dataset=data, run_dir=Path(a), device=DEVICE)
            for _ in range(steps):
                straight.train_step()
            again = Trainer(config=config, dataset=data, run_dir=Path(b), device=DEVICE)
            for _ in range(steps):
                again.train_step()
            repeat = _max_diff(_weights(straight), _weights(again))
            half = Trainer(config=config, dataset=data, run_dir=Path(b), device=DEVICE)
            half.train(until_kimg=steps // 2 * config.batch_size / 1000)
            resumed = Trainer.resume(Path(b), dataset=data, device=DEVICE)
            resumed.train(until_kimg=steps * config.batch_size / 1000)
            resume = _max_diff(_weights(straight), _weights(resumed))
            counters = {"straight": [straight.step, straight.nimg], "resumed": [resumed.step, resumed.nimg]}
        if counters["straight"] != counters["resumed"]:
            raise AssertionError(f"counters differ: {counters}")
        return {"steps": steps, "same_seed_max_abs_diff": repeat, "resume_max_abs_diff": resume,
                "exact": repeat == 0.0 and resume == 0.0, "counters": counters}

    record("determinism_and_resume", straight_and_resumed)

    def cross_device() -> dict:
        with tempfile.TemporaryDirectory() as run:
            gpu = Trainer(config=config, dataset=data, run_dir=Path(run), device=DEVICE)
            gpu.train(until_kimg=4 * config.batch_size / 1000)
            ckpt = latest_checkpoint(Path(run))
            state = load_checkpoint(ckpt)  # weights_only=True, onto the CPU
            on_cpu = {t.device.type for t in state["G"].values()}
            cpu = Trainer.resume(Path(run), dataset=data, device="cpu")
            cpu.train(until_kimg=6 * config.batch_size / 1000)
            exported = export_generator(checkpoint=ckpt, path=Path(run) / "g.pt")
            module = torch.jit.load(str(exported), map_location="cpu")
            img = module(torch.randn(4, config.gan.z_dim), torch.zeros(4, dtype=torch.long), torch.tensor(0.7))
            samples = sorted(p.name for p in (Path(run) / "samples").iterdir())
        return {"checkpoint_tensor_devices": sorted(on_cpu), "cpu_resumed_to_step": cpu.step,
                "export_output_shape": list(img.shape), "export_finite": bool(torch.isfinite(img).all()),
                "sample_grids": samples}

    record("gpu_checkpoint_to_cpu_and_export", cross_device)

    def cpu_vs_cuda() -> dict:
        # Same seed, same random streams (drawn on the CPU): the two devices should track closely.
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            one = Trainer(config=config, dataset=data, run_dir=Path(a), device="cpu")
            two = Trainer(config=config, dataset=data, run_dir=Path(b), device=DEVICE)
            for _ in range(4):
                one.train_step()
                two.train_step()
            return {"steps": 4, "max_abs_diff": _max_diff(_weights(one), _weights(two))}

    record("cpu_vs_cuda_4_steps", cpu_vs_cuda)
    torch.use_deterministic_algorithms(False)
    return results


def throughput(out: Path, data: torch.Tensor, seconds: float, *, resolutions: list[int], batches: list[int]) -> dict:
    torch.backends.cudnn.benchmark = True
    rows: dict = {}

    def rate(step, batch: int) -> float:
        # Past the first lazy-R1 step too: its double backward brings new convolutions to autotune.
        for _ in range(2 * TrainConfig().r1_interval + 2):
            step()
        _sync()
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            step()
            n += batch
        _sync()
        return n / (time.perf_counter() - start)

    for res in resolutions:
        for batch in batches:
            try:
                images = torch.nn.functional.interpolate(data[:256].float(), size=(res, res)).to(torch.uint8)
                config = TrainConfig.default(res, batch_size=batch, checkpoint_kimg=1e6)
                trainer = Trainer(config=config, dataset=images, run_dir=Path(tempfile.mkdtemp()), device=DEVICE)
                ours = rate(trainer.train_step, batch)
                row = {"ours_img_s": round(ours, 1)}
                if DEVICE.startswith("cuda"):
                    row["peak_mem_mb"] = torch.cuda.max_memory_allocated() // 2**20
                if res <= 128:
                    dcgan = DCGANRunner(data=images, resolution=res, batch_size=batch, seed=0, device=DEVICE)
                    row["dcgan_img_s"] = round(rate(dcgan.step, batch), 1)
            except Exception as exc:  # noqa: BLE001 - report and go on to the next size
                row = {"error": f"{type(exc).__name__}: {exc}"}
            rows[f"{res}px-batch{batch}"] = row
            if DEVICE.startswith("cuda"):
                torch.cuda.reset_peak_memory_stats()
            _write(out, "gpu-throughput.json", rows)
            print(res, batch, row, flush=True)
    return rows


def sweep(out: Path, *, data: Path, encoder: Path, runs: list[str], res: int, kimg: float, every: float,
          deadline_s: float) -> None:
    """Run quality_curves for each variant:seed at once; kill what is left at the deadline."""
    work = Path(tempfile.mkdtemp())
    shutil.copy(encoder, work / f"encoder-{res}.pt")
    log = (out / "sweep.log").open("ab", buffering=0)
    procs = []
    for run in runs:
        variant, seed = run.split(":")
        cmd = [sys.executable, str(ROOT / "bench" / "quality_curves.py"), "--variant", variant, "--seed", seed,
               "--res", str(res), "--kimg", str(kimg), "--every", str(every), "--device", DEVICE,
               "--data", str(data), "--out", str(work)]
        procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT))
    start = time.perf_counter()
    while any(p.poll() is None for p in procs) and time.perf_counter() - start < deadline_s:
        time.sleep(2)
    for p in procs:
        if p.poll() is None:
            p.kill()
    log.write(f"\nsweep ended after {time.perf_counter() - start:.0f}s; return codes "
              f"{[p.wait() for p in procs]}\n".encode())
    grids = sorted(work.glob("curve-*.png"))
    if grids:
        from PIL import Image

        tiles = [Image.open(g).convert("RGB") for g in grids]
        w, h = tiles[0].size
        sheet = Image.new("RGB", (w * min(len(tiles), 4), h * ((len(tiles) + 3) // 4)), "white")
        for i, tile in enumerate(tiles):
            sheet.paste(tile, ((i % 4) * w, (i // 4) * h))
        sheet.save(out / "sweep-grids.png")
        (out / "sweep-grids.txt").write_text("\n".join(g.name for g in grids) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True, help="emoji-<res>px-*.npy from the emoji cache")
    parser.add_argument("--encoder", type=Path, required=True, help="metric encoder for the sweep's resolution")
    parser.add_argument("--parts", nargs="+", default=["checks", "throughput", "sweep"])
    parser.add_argument("--throughput-seconds", type=float, default=5.0)
    parser.add_argument("--sweep", nargs="*", default=[], metavar="VARIANT:SEED")
    parser.add_argument("--res", type=int, default=64)
    parser.add_argument("--kimg", type=float, default=120)
    parser.add_argument("--every", type=float, default=20)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--resolutions", type=int, nargs="+", default=[32, 64, 128, 256])
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--deadline", type=float, default=300, help="seconds before the sweep is stopped")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    global DEVICE
    DEVICE = args.device
    import numpy as np

    images = torch.from_numpy(np.load(args.data)).permute(0, 3, 1, 2).contiguous()
    small = torch.nn.functional.interpolate(images[:512].float(), size=(32, 32), mode="area").round().to(torch.uint8)
    if "throughput" in args.parts:  # first and alone on the GPU
        throughput(args.out, images, args.throughput_seconds, resolutions=args.resolutions, batches=args.batches)
    if "sweep" in args.parts and args.sweep:
        # The sweep's processes train while this one runs the checks.
        import threading

        thread = threading.Thread(target=sweep, args=(args.out,), kwargs={
            "data": args.data, "encoder": args.encoder, "runs": args.sweep, "res": args.res, "kimg": args.kimg,
            "every": args.every, "deadline_s": args.deadline})
        thread.start()
    if "checks" in args.parts:
        checks(args.out, small)
    if "sweep" in args.parts and args.sweep:
        thread.join()


if __name__ == "__main__":
    main()
