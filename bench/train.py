"""Training throughput on this machine's CPU: BrandForge's GAN beside a plain DCGAN.

For the default 32/64/128 px configs it reports images/s, the FLOP rate a training step achieves
(counted with torch.utils.flop_counter: convolutions and matrix products, forward and backward)
as a share of the practical peak (the FP32 matmul rate torch reaches on all cores, measured in the
same run), and the peak RSS of a fresh process doing only that training. The FLOPs are counted over
one more cycle of the same steps after the timed ones, so counting costs the timed steps nothing.

    .venv/bin/python bench/train.py                 # everything, a few minutes
    .venv/bin/python bench/train.py --resolutions 64 --seconds 20
    .venv/bin/python bench/train.py --resolutions 64 --ddp 2    # + our default as 2 one-thread Gloo ranks
    .venv/bin/python bench/train.py --resolutions 32 --also-gan d_patch_res=16   # + a row with one field changed

`--ddp N` adds a row for our default trained as a worker with `GENERATIVE_DDP_PROCESSES=N` trains it:
N processes launched by torchrun (one thread each, gradients all-reduced over Gloo). By default the
default batch is split between them, so the global batch (and so the training) stays the same;
`--ddp-batch B` sets the batch per rank instead (the worker uses the run's batch_size per rank). Its
FLOP rate is the sum over ranks; its share divides by the same all-core peak as every other row; its
peak RSS is the sum of the ranks' (an upper bound: pages the ranks share are counted once per rank).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.nn import functional as F
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from generative.nn.config import GANConfig  # noqa: E402
from generative.nn.dcgan import DCGANDiscriminator, DCGANGenerator  # noqa: E402
from generative.nn.errors import GANConfigError  # noqa: E402
from generative.training.config import TrainConfig  # noqa: E402
from generative.training.memory import keep_freed_memory  # noqa: E402
from generative.training.trainer import Trainer  # noqa: E402

BATCH = {32: 32, 64: 32, 128: 16}


def matmul_peak_gflops(*, seconds: float = 3.0, detail: dict | None = None) -> float:
    """Best FP32 matrix-multiply rate torch reaches here (what 'practical peak' means).

    Two routes compute the same n x n by n x n product: torch.mm (MKL, which takes its AVX2 path on
    AMD CPUs) and oneDNN, the library behind torch's CPU convolutions (a 1x1 convolution over a
    channels-last [1, n, n, 1] tensor). On this AMD EPYC oneDNN's AVX-512 kernels run about twice as
    fast, so counting torch.mm alone would halve the peak and double every share. `detail`, when
    given, receives each route's best rate.
    """
    routes: dict[str, float] = {"torch.mm": 0.0, "onednn-gemm": 0.0}
    for n in (1024, 2048):
        a, b = torch.randn(n, n), torch.randn(n, n)
        x = torch.randn(1, n, n, 1).contiguous(memory_format=torch.channels_last)
        w = torch.randn(n, n, 1, 1)
        for route, op, operands in (("torch.mm", torch.mm, (a, b)), ("onednn-gemm", F.conv2d, (x, w))):
            op(*operands)
            reps, start = 0, time.perf_counter()
            while time.perf_counter() - start < seconds / 4:
                op(*operands)
                reps += 1
            routes[route] = max(routes[route], 2 * n**3 * reps / (time.perf_counter() - start) / 1e9)
    if detail is not None:
        detail.update(routes)
    return max(routes.values())


def _images(n: int, resolution: int) -> torch.Tensor:
    return (torch.rand(n, 3, resolution, resolution, generator=torch.Generator().manual_seed(0)) * 255).to(torch.uint8)


class FlopCount(TorchDispatchMode):
    """Sums torch.utils.flop_counter's per-op formulas (convolutions, matmuls, forward and backward).

    FlopCounterMode itself cannot follow the R1 penalty's autograd.grad through module hooks, so
    this mode applies the same formula registry at the dispatcher, where no hooks are involved.
    """

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out


def _timed(step, *, seconds: float, cycle: int = 1, min_steps: int = 3) -> dict:
    """Time whole cycles of `step` for about `seconds` between two peak measurements, then count
    the FLOPs of one more cycle.

    A cycle is the period of the step's work: `r1_interval` steps for our GAN, whose R1 pass runs
    on one step in each, so the timed and the counted steps hold the same share of R1 steps. The
    FLOPs are counted apart from the timed steps because the counting mode runs Python code for
    every op, which slowed a 64 px step by a quarter (136 to 170 ms, 2026-12-05).
    """
    peak_before = matmul_peak_gflops(seconds=2.0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or steps < min_steps or steps % cycle:
        step()
        steps += 1
    elapsed = time.perf_counter() - start
    peak_after = matmul_peak_gflops(seconds=2.0)
    flops_per_step = _flops_per_step(step, cycle)
    return {"steps": steps, "seconds": elapsed, "gflops_per_step": flops_per_step / 1e9,
            "gflop_per_s": flops_per_step * steps / elapsed / 1e9, "peak_gflop_per_s": (peak_before + peak_after) / 2}


def _flops_per_step(step, cycle: int) -> float:
    with FlopCount() as counter:
        for _ in range(cycle):
            step()
    return counter.total / cycle


def bench_ours(resolution: int, *, seconds: float, gan_overrides: dict | None = None) -> dict:
    gan = dataclasses.replace(GANConfig.default(resolution), **(gan_overrides or {}))
    config = TrainConfig.default(resolution, gan=gan, batch_size=BATCH[resolution], checkpoint_kimg=1e6)
    trainer = Trainer(config=config, dataset=_images(256, resolution), run_dir=Path(tempfile.mkdtemp()), device="cpu")
    trainer.train_step()  # warm-up (step 0 also runs R1); timed steps run R1 on one step in r1_interval
    result = _timed(trainer.train_step, seconds=seconds, cycle=config.r1_interval)
    params = sum(p.numel() for m in (trainer.G, trainer.D) for p in m.parameters())
    name = "brandforge" if not gan_overrides else f"brandforge({', '.join(f'{k}={v}' for k, v in gan_overrides.items())})"
    return {"model": name, "resolution": resolution, "batch": config.batch_size, "params_m": params / 1e6,
            "images_per_s": result["steps"] * config.batch_size / result["seconds"], **result}


def _dcgan_base(target_params: int, resolution: int) -> int:
    def count(base: int) -> int:
        nets = (DCGANGenerator(resolution=resolution, base=base), DCGANDiscriminator(resolution=resolution, base=base))
        return sum(p.numel() for m in nets for p in m.parameters())
    return min(range(64, 1025, 32), key=lambda b: abs(count(b) - target_params))


def bench_ours_ddp(resolution: int, *, seconds: float, batch_per_rank: int) -> dict | None:
    """One torchrun rank of the `--ddp` row; rank 0 returns the whole row, the others None."""
    import torch.distributed as dist

    from generative.training import distributed as ddp

    dist.init_process_group("gloo")
    try:
        rank, world = ddp.world()
        config = TrainConfig.default(resolution, batch_size=batch_per_rank, checkpoint_kimg=1e6)
        trainer = Trainer(config=config, dataset=_images(256, resolution), run_dir=Path(tempfile.mkdtemp()),
                          device="cpu")
        trainer.train_step()
        ddp.barrier()
        steps, start, cycle = 0, time.perf_counter(), config.r1_interval
        # Every rank must run the same number of steps (each step all-reduces), so they agree on when to stop.
        while not ddp.any_true(time.perf_counter() - start >= seconds and steps >= 3 and steps % cycle == 0,
                               device=trainer.device):
            trainer.train_step()
            steps += 1
        elapsed = time.perf_counter() - start
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        flops = _flops_per_step(trainer.train_step, cycle) * steps
        flops, rss_sum = ddp.sum_floats(flops, rss_mb, device=trainer.device)
        elapsed_max = max(float(e) for e in ddp.gather_objects(elapsed))
        params = sum(p.numel() for m in (trainer.G, trainer.D) for p in m.parameters())
        ddp.barrier()  # no rank tears Gloo down while another is still in a collective
    finally:
        dist.destroy_process_group()
    if rank != 0:
        return None
    return {"model": f"brandforge, {world} ranks x 1 thread", "resolution": resolution,
            "batch": f"{world}x{batch_per_rank}", "params_m": params / 1e6, "steps": steps, "seconds": elapsed_max,
            "images_per_s": steps * batch_per_rank * world / elapsed_max, "gflops_per_step": flops / steps / 1e9,
            "gflop_per_s": flops / elapsed_max / 1e9, "peak_rss_mb": rss_sum}


def _run_ddp(resolution: int, *, seconds: float, processes: int, batch_per_rank: int) -> dict:
    """The `--ddp` row: torchrun as the worker launches it, between two all-core peak measurements."""
    peak_before = matmul_peak_gflops(seconds=2.0)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
           __file__, "--child", "ours-ddp", "--resolutions", str(resolution), "--seconds", str(seconds),
           "--threads", "1", "--batch", str(batch_per_rank)]
    result = _json_row(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"})
    result["peak_gflop_per_s"] = (peak_before + matmul_peak_gflops(seconds=2.0)) / 2
    return result


def bench_dcgan(resolution: int, *, seconds: float, target_params: int) -> dict:
    keep_freed_memory()  # the process setup our Trainer gives itself
    torch.manual_seed(0)
    base = _dcgan_base(target_params, resolution)
    G = DCGANGenerator(resolution=resolution, base=base).to(memory_format=torch.channels_last)
    D = DCGANDiscriminator(resolution=resolution, base=base).to(memory_format=torch.channels_last)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    data = _images(256, resolution).float().div(127.5).sub(1)
    batch = BATCH[resolution]
    gen = torch.Generator().manual_seed(0)

    def step() -> None:
        real = data[torch.randint(len(data), (batch,), generator=gen)].contiguous(memory_format=torch.channels_last)
        z = torch.randn(batch, G.z_dim, generator=gen)
        fake = G(z)
        loss_d = F.softplus(D(fake.detach())).mean() + F.softplus(-D(real)).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = F.softplus(-D(G(torch.randn(batch, G.z_dim, generator=gen)))).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()

    step()
    result = _timed(step, seconds=seconds)
    params = sum(p.numel() for m in (G, D) for p in m.parameters())
    return {"model": f"dcgan(base={base})", "resolution": resolution, "batch": batch, "params_m": params / 1e6,
            "images_per_s": result["steps"] * batch / result["seconds"], **result}


def _child(args: argparse.Namespace) -> None:
    if args.child == "ours-ddp":
        result = bench_ours_ddp(args.resolutions[0], seconds=args.seconds, batch_per_rank=BATCH[args.resolutions[0]])
        if result is not None:
            print(json.dumps(result))
        return
    if args.child == "ours":
        result = bench_ours(args.resolutions[0], seconds=args.seconds, gan_overrides=json.loads(args.child_gan))
    else:
        result = bench_dcgan(args.resolutions[0], seconds=args.seconds, target_params=args.target_params)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def _run_child(kind: str, resolution: int, *, seconds: float, target_params: int = 0,
               gan_overrides: dict | None = None) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--resolutions", str(resolution), "--seconds", str(seconds),
           "--target-params", str(target_params), "--threads", str(torch.get_num_threads()),
           "--batch", str(BATCH[resolution]), "--child-gan", json.dumps(gan_overrides or {})]
    return _json_row(cmd)


def _gan_override(text: str) -> dict:
    """`KEY=VALUE` -> {KEY: VALUE}, the value typed as the GANConfig field's default is."""
    key, sep, value = text.partition("=")
    defaults = {f.name: f.default for f in dataclasses.fields(GANConfig)}
    if not sep or key not in defaults:
        raise argparse.ArgumentTypeError(f"{text!r}: give KEY=VALUE with KEY a GANConfig field")
    kind = type(defaults[key])
    booleans = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    try:
        typed = booleans[value.lower()] if kind is bool else kind(value)
    except (KeyError, ValueError) as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {key} takes a {kind.__name__}") from exc
    return {key: typed}


def _json_row(cmd: list[str], *, env: dict[str, str] | None = None) -> dict:
    """The JSON row a child prints last; a failed child ends the benchmark with the end of its stderr."""
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    rows = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not rows:
        raise SystemExit(f"{' '.join(cmd[1:])} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(rows[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolutions", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--seconds", type=float, default=20.0, help="timed training per model and size")
    parser.add_argument("--batch", type=int, help="batch size for every resolution (default: 32, 32, 16)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads (default: all cores)")
    parser.add_argument("--ddp", type=int, default=0, metavar="N",
                        help="extra row: our default trained by N one-thread Gloo ranks under torchrun, "
                             "the default batch split between them")
    parser.add_argument("--ddp-batch", type=int, help="batch per rank for the --ddp row (default: the batch / N)")
    parser.add_argument("--child", choices=["ours", "ours-ddp", "dcgan"], help=argparse.SUPPRESS)
    parser.add_argument("--target-params", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--child-gan", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--also-channel-base", type=int, nargs="*", default=[],
                        help="extra rows: our GAN with these channel_base values instead of the default's")
    parser.add_argument("--also-gan", type=_gan_override, nargs="*", default=[], metavar="KEY=VALUE",
                        help="extra rows: our GAN with one GANConfig field changed per row (e.g. d_patch_res=0)")
    args = parser.parse_args()
    bad = [cb for cb in args.also_channel_base if cb < 1]
    if bad:
        parser.error(f"--also-channel-base {bad}: channel_base must be a positive integer")
    for override in args.also_gan:
        for res in args.resolutions:
            try:
                dataclasses.replace(GANConfig.default(res), **override)
            except GANConfigError as exc:
                parser.error(f"--also-gan {override} at {res} px: {exc}")
    if args.ddp == 1 or args.ddp < 0:
        parser.error(f"--ddp {args.ddp}: give 2 or more processes (0 leaves the row out)")
    torch.set_num_threads(args.threads)
    if args.batch:
        BATCH.update(dict.fromkeys(BATCH, args.batch))
    if args.ddp_batch is not None and args.ddp_batch < 1:
        parser.error(f"--ddp-batch {args.ddp_batch}: the batch per rank must be at least 1")
    uneven = [res for res in args.resolutions if args.ddp and not args.ddp_batch and BATCH[res] % args.ddp]
    if uneven:
        parser.error(f"--ddp {args.ddp}: the batch at {uneven} px does not split evenly into {args.ddp} ranks")
    if args.child:
        _child(args)
        return
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.2f}")
    routes: dict[str, float] = {}
    peak = matmul_peak_gflops(detail=routes)
    print(f"practical peak at start (FP32 matmul, {torch.get_num_threads()} threads): {peak:.1f} GFLOP/s "
          f"(torch.mm {routes['torch.mm']:.1f}, oneDNN GEMM {routes['onednn-gemm']:.1f}); "
          "each row's share uses the peak measured beside it")
    header = ("| model | px | batch | params (M) | steps | images/s | GFLOP/step | GFLOP/s | peak GFLOP/s "
              "| % of peak | peak RSS (MB) |")
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for res in args.resolutions:
        ours = _run_child("ours", res, seconds=args.seconds)
        dcgan = _run_child("dcgan", res, seconds=args.seconds, target_params=int(ours["params_m"] * 1e6))
        variants = [{"channel_base": cb} for cb in args.also_channel_base] + args.also_gan
        others = [_run_child("ours", res, seconds=args.seconds, gan_overrides=v) for v in variants]
        if args.ddp:
            others.append(_run_ddp(res, seconds=args.seconds, processes=args.ddp,
                                   batch_per_rank=args.ddp_batch or BATCH[res] // args.ddp))
        for r in (ours, dcgan, *others):
            share = 100 * r["gflop_per_s"] / r["peak_gflop_per_s"]
            print(f"| {r['model']} | {r['resolution']} | {r['batch']} | {r['params_m']:.2f} | {r['steps']} "
                  f"| {r['images_per_s']:.2f} | {r['gflops_per_step']:.1f} | {r['gflop_per_s']:.1f} "
                  f"| {r['peak_gflop_per_s']:.1f} | {share:.0f}% | {r['peak_rss_mb']:.0f} |", flush=True)
    print(f"# load average at the end {os.getloadavg()[0]:.2f}")

if __name__ == "__main__":
    main()
