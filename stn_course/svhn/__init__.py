"""SVHN multi-digit recognition: the raw format, the preprocessing, the datasets, the models, Table 2.

SVHN's "format 1" comes as three archives (``train.tar.gz``, ``test.tar.gz``,
``extra.tar.gz``). Each holds PNG files ``1.png, 2.png, …`` of street-view photographs and a
``digitStruct.mat`` (MATLAB v7.3, i.e. HDF5) with one bounding box and label per digit.

The paper (section 4.2) follows Goodfellow et al. (2013): take the smallest box around all
digits of a number, expand it by 30% in x and y, crop the photograph to it and resize the
crop to 64×64 pixels; at training time take random 54×54 crops of that, at test time the
centre crop. The paper also uses a looser 128×128 crop with more background; it does not say
how much looser, so we take the box expanded by 2 × 1.3 = 2.6 around the same centre — the
64-pixel view then sits, at the same resolution, in the middle of the 128-pixel view. Numbers
with more than five digits are dropped.

Labels follow the paper's model (five softmax classifiers with a "no digit" class): each
number is a row of five classes, digits 0–9 left to right, then ``BLANK = 10``. In the raw
files the digit 0 has label 10; :func:`read_digit_struct` turns it into 0.

Layout under the data root (:func:`stn_course.config.data_root`)::

    SVHN/raw/train.tar.gz …            the archives (data_scripts/fetch_svhn.py)
    SVHN/raw/train/1.png … digitStruct.mat   the extracted archives
    SVHN/prepared/train_64.npy          uint8 (N, 64, 64, 3) crops
    SVHN/prepared/train_128.npy         uint8 (N, 128, 128, 3) crops
    SVHN/prepared/train_labels.npy      uint8 (N, 5), BLANK = 10 after the last digit
    SVHN/prepared/train_64_windows.npy  float32 (N, 4): each crop's window (x0, y0, x1, y1) in its photo
    SVHN/prepared/manifest.json         shapes, counts, settings and SHA-256 of every array

This package also makes a synthetic stand-in, "house numbers" composed from MNIST digits on
textured backgrounds, labelled the same way, so that chapter 10 runs without SVHN.

One module per part::

    digitstruct   the splits and digitStruct.mat: read_digit_struct, write_digit_struct, DigitRecord
    labels        a number as five classes (BLANK after the last digit): encode_digits, decode_digits
    crops         the window around the digits, crop and resize, random and centre crops
    prepared      raw archives → arrays + manifest: prepare, load_prepared, DataNotPreparedError
    dataset       SVHNSequences, the torchvision-style dataset over the crops
    standin       the stand-in from MNIST digits: synthetic_house_numbers (clipped_window), write_synthetic_archive
    models        the paper's CNN, ST-CNN Single and Multi, their loss and schedules (not imported here)
    table2        ``python -m stn_course.benchmark table2`` (not imported here)
"""

from __future__ import annotations

from .crops import (CROP_FRACTION, EXPAND, LOOSE_FACTOR, center_crop, crop_resize, crop_window, default_crop,
                    random_crop, sequence_box)
from .dataset import SVHNSequences, to_float
from .digitstruct import BOX_FIELDS, SPLITS, DigitRecord, read_digit_struct, write_digit_struct
from .labels import BLANK, MAX_DIGITS, NUM_CLASSES, decode_digits, encode_digits
from .prepared import (FORMAT_VERSION, SIZES, DataNotPreparedError, extract_split, load_prepared, prepare,
                       prepare_split, prepared_available, svhn_root)
from .standin import (LENGTH_PROBS, PLACEMENTS, ROOM_RANGE, clipped_window, compose_house_number,
                      number_boxes, synthetic_house_numbers, synthetic_photos, write_synthetic_archive)

__all__ = ["SPLITS", "SIZES", "MAX_DIGITS", "BLANK", "NUM_CLASSES", "EXPAND", "LOOSE_FACTOR", "CROP_FRACTION",
           "FORMAT_VERSION", "BOX_FIELDS", "LENGTH_PROBS", "PLACEMENTS", "ROOM_RANGE", "clipped_window", "number_boxes",
           "DataNotPreparedError", "DigitRecord", "svhn_root",
           "read_digit_struct", "write_digit_struct", "sequence_box", "crop_window", "crop_resize", "encode_digits",
           "decode_digits", "extract_split", "prepare_split", "prepare", "load_prepared", "prepared_available",
           "default_crop", "random_crop", "center_crop", "to_float", "SVHNSequences", "compose_house_number",
           "synthetic_photos", "write_synthetic_archive", "synthetic_house_numbers"]
