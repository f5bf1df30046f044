"""Generative services: snapshots, preprocessing, training runs, metrics and the model registry."""
