"""Training images from a tensor or a torch Dataset, sampled by index from a seeded generator."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset


class DatasetError(ValueError):
    """Training data of the wrong shape, type or size."""


class ImageSource:
    """Random batches in [-1, 1], channels-last, from uint8 NCHW or float [-1, 1] images.

    Sampling with replacement by index keeps no epoch state, so resuming needs only the
    generator's state to draw the same batches an uninterrupted run would.
    """

    def __init__(self, dataset: torch.Tensor | Dataset, *, resolution: int, channels: int,
                 labels: torch.Tensor | None = None, num_classes: int = 0) -> None:
        self.dataset = dataset
        self.resolution, self.channels = resolution, channels
        self.labels = labels
        self.num_classes = num_classes
        self.size = len(dataset)  # type: ignore[arg-type]
        if self.size < 1:
            raise DatasetError("the training data set is empty")
        if isinstance(dataset, torch.Tensor):
            self._check_images(dataset[:1])
        if num_classes > 0 and labels is None and isinstance(dataset, torch.Tensor):
            raise DatasetError(f"the model has {num_classes} classes but no labels were given")
        if labels is not None:
            if labels.shape != (self.size,):
                raise DatasetError(f"labels have shape {tuple(labels.shape)}; expected [{self.size}]")
            if num_classes < 1 or int(labels.min()) < 0 or int(labels.max()) >= num_classes:
                raise DatasetError(f"labels must lie in 0..{num_classes - 1} for a model with {num_classes} classes")

    def _check_images(self, images: torch.Tensor) -> None:
        expected = (self.channels, self.resolution, self.resolution)
        if images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise DatasetError(f"images have shape {tuple(images.shape)}; expected [N, {', '.join(map(str, expected))}]")
        if images.dtype != torch.uint8 and not images.is_floating_point():
            raise DatasetError(f"images have dtype {images.dtype}; expected uint8 or float in [-1, 1]")

    @staticmethod
    def _to_float(images: torch.Tensor) -> torch.Tensor:
        if images.dtype == torch.uint8:
            return images.float() / 127.5 - 1.0
        return images.float()

    def sample(self, batch_size: int, *, generator: torch.Generator,
               device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
        idx = torch.randint(self.size, (batch_size,), generator=generator)
        if isinstance(self.dataset, torch.Tensor):
            images = self.dataset[idx]
            labels = self.labels[idx] if self.labels is not None else None
        else:
            items = [self.dataset[int(i)] for i in idx]
            if isinstance(items[0], tuple | list):
                images = torch.stack([torch.as_tensor(it[0]) for it in items])
                labels = torch.as_tensor([int(it[1]) for it in items], dtype=torch.long)
            else:
                images = torch.stack([torch.as_tensor(it) for it in items])
                labels = self.labels[idx] if self.labels is not None else None
            self._check_images(images)
        images = self._to_float(images).to(device).contiguous(memory_format=torch.channels_last)
        if self.num_classes == 0:
            labels = None
        return images, labels.to(device) if labels is not None else None

    def sample_labels(self, batch_size: int, *, generator: torch.Generator, device: torch.device) -> torch.Tensor | None:
        """Labels for fakes, drawn from the data's own class frequencies."""
        if self.num_classes == 0:
            return None
        idx = torch.randint(self.size, (batch_size,), generator=generator)
        if self.labels is not None:
            return self.labels[idx].to(device)
        return torch.as_tensor([int(self.dataset[int(i)][1]) for i in idx], dtype=torch.long, device=device)
