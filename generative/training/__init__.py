"""Pure-torch GAN training (no Django import).

- ``trainer.Trainer(*, config, dataset, run_dir, device=None, labels=None, on_progress=None,
  should_cancel=None)``; ``.train(until_kimg=...) -> Progress``; ``Trainer.resume(run_dir, *, dataset, ...)``.
  Checkpoints go to ``run_dir/checkpoints/ckpt-<nimg>.pt`` (atomic), sample grids to
  ``run_dir/samples/img-<images shown, 9 digits>.png`` (unique even below 1 kimg).
- ``config.TrainConfig``: hyper-parameters (nests a ``GANConfig``), ``to_dict``/``from_dict``.
- ``checkpoint``: ``save_checkpoint``, ``load_checkpoint`` (``weights_only=True``), ``latest_checkpoint``.
- ``export.export_generator(*, checkpoint, path)``: TorchScript of G_ema taking
  ``(z, labels, truncation_psi)``.
- ``ddp_main``: ``torchrun --nproc_per_node=N -m generative.training.ddp_main --data ... --run-dir ...``.
"""
