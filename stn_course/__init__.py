"""stn_course: the companion package of "Spatial Transformer Networks, built from scratch".

One module per idea the book teaches: :mod:`geometry` (coordinates and θ), :mod:`grid`
(grid generators), :mod:`sampler` (sampling kernels), :mod:`transforms` (parameterisations),
:mod:`localization` (localisation nets) and :mod:`transformer` (the whole module).
"""

from .config import QUICK
from .transformer import SpatialTransformer

__version__ = "0.1.0"
__all__ = ["QUICK", "SpatialTransformer", "__version__"]
