"""stn_course: the companion package of "Spatial Transformer Networks, built from scratch".

One module per idea the book teaches: :mod:`geometry` (coordinates and θ), :mod:`grid`
(grid generators), :mod:`sampler` (sampling kernels), :mod:`transforms` (parameterisations),
:mod:`localization` (localisation nets) and :mod:`transformer` (the whole module), with
:mod:`transformer3d` and :mod:`volumes` for volumes (chapter 11); then
:mod:`models`, :mod:`data` and :mod:`distortions` (the paper's MNIST experiments) and :mod:`viz`.

A subpackage per larger concern, one module per part: :mod:`training` (the one training loop:
batches, optimiser, devices, evaluation, checkpoints, the loop), :mod:`benchmark` (provenance, records,
schedules, Table 1, the command line), :mod:`svhn` (the raw format, crops, the stand-in,
models, Table 2), :mod:`classroom` (student notebooks, grading, the student edition),
:mod:`widgets` and :mod:`exercises`.
"""

from .config import QUICK
from .transformer import SpatialTransformer

__version__ = "0.1.0"
__all__ = ["QUICK", "SpatialTransformer", "__version__"]
