"""BrandForge's few-shot GAN networks (pure torch; nothing here imports Django)."""
