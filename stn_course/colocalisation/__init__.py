"""Co-localisation (the paper's appendix A.2): find the digit that several images share, with no boxes.

A spatial transformer with the attention transform (scale and translation) crops each
84 × 84 image; a frozen encoder, trained beforehand to classify MNIST digits, embeds the crop.
The only training signal is a triplet hinge loss: the crops of two images of the same class
should embed closer to each other than a crop does to a random crop of its own image.

One module per part: ``boxes`` (crop boxes from θ, intersection over union, the IoU ≥ 0.5
score), ``loss`` (the hinge loss), ``regression`` (the paper's kind of localisation net, a
randomly initialised box regressor), ``model`` (the encoder, the pointing localisation net and
the co-localiser), ``landscape`` (the loss at boxes set by hand: what the loss prefers). The data
are :func:`stn_course.data.colocalisation_split`; the benchmark is
``python -m stn_course.benchmark coloc``.
"""

from .boxes import IOU_THRESHOLD, attention_box, box_iou, ink_boxes, localised, missed
from .loss import TripletHingeLoss, triplet_hinge_loss
from .model import (LOCALISERS, CoLocaliser, CoLocOutput, Encoder, HeatmapLocalization, make_colocaliser,
                    random_crop_params, train_encoder)
from .regression import BoxRegression

__all__ = ["IOU_THRESHOLD", "attention_box", "box_iou", "ink_boxes", "localised", "missed", "TripletHingeLoss",
           "triplet_hinge_loss", "LOCALISERS", "BoxRegression", "CoLocaliser", "CoLocOutput", "Encoder",
           "HeatmapLocalization", "make_colocaliser", "random_crop_params", "train_encoder"]
