"""Pure-torch training for BrandForge's GANs: trainer, checkpoints, EMA, samples, export, DDP entry."""
