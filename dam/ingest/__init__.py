"""Safe ingest inspection: pure functions, no Django. The dam services call these."""

from dam.ingest.errors import RejectedFile
from dam.ingest.hashing import hamming, perceptual_hash
from dam.ingest.inspect import InspectedFile, inspect_file
from dam.ingest.limits import IngestLimits
from dam.ingest.svg import SvgRenderError, rasterise_svg

__all__ = ["IngestLimits", "InspectedFile", "RejectedFile", "SvgRenderError", "hamming", "inspect_file",
           "perceptual_hash", "rasterise_svg"]
