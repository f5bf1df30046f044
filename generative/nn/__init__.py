"""BrandForge's few-shot GAN networks (pure torch; nothing here imports Django).

- ``config.GANConfig``: sizes both networks; ``GANConfig.default(resolution)`` for 32/64/128/256 px.
- ``generator.Generator``: ``mapping(z, c) -> ws [N, num_ws, w_dim]`` (``w_avg`` tracked for
  truncation) and ``synthesis(ws) -> images [N, C, H, W]`` in about [-1, 1]; per-layer styles make
  style mixing possible; skip-layer excitation links low and high resolutions.
- ``discriminator.Discriminator``: residual, minibatch-stddev, projection conditioning; logits [N]
  (``score`` adds patch logits [N, r, r] when ``d_patch_res`` gives it a patch head).
- ``augment``: differentiable translation/cutout/brightness/saturation/contrast with an adaptive p.
- ``losses``: non-saturating logistic loss and the R1 penalty.
- ``latent``: ``lerp``, ``slerp``, ``truncate``, ``style_mix`` for variant generation.
- ``dcgan``: a plain DCGAN, the benchmark's reference point only.
"""
