"""Domain errors of the GAN networks; they name the offending input and the reason."""


class GANConfigError(ValueError):
    """A network configuration that cannot be built."""


class ShapeError(ValueError):
    """A tensor that does not have the shape a module boundary expects."""
