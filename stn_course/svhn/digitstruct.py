"""SVHN's raw format: the splits, and ``digitStruct.mat`` (MATLAB v7.3 / HDF5) read and written."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPLITS = ("train", "test", "extra")


@dataclass
class DigitRecord:
    """One photograph of ``digitStruct.mat``: file name, digit boxes and labels.

    ``boxes`` is (k, 4) float64 of (left, top, width, height) in pixels; ``digits`` holds the
    k digits 0–9, left to right as annotated.
    """

    name: str
    boxes: np.ndarray
    digits: list[int]


BOX_FIELDS = ("left", "top", "width", "height")


def _field_values(f, dataset) -> list[float]:
    """A bbox field: stored inline as a (1, 1) double when there is one digit, else as refs."""
    import h5py

    if h5py.check_ref_dtype(dataset.dtype) is not None:
        return [float(np.asarray(f[ref]).ravel()[0]) for ref in np.asarray(dataset).ravel()]
    return [float(v) for v in np.asarray(dataset).ravel()]


def read_digit_struct(path: str | Path, limit: int | None = None) -> list[DigitRecord]:
    """Parse SVHN's ``digitStruct.mat`` (MATLAB v7.3 / HDF5) into :class:`DigitRecord` s.

    The file holds a group ``digitStruct`` with two (N, 1) datasets of object references:
    ``name`` → a uint16 char array, ``bbox`` → a group with fields height, label, left, top,
    width, each a (k, 1) dataset that holds the value itself when k = 1 and references to
    (1, 1) doubles otherwise. Label 10 means the digit 0.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"digitStruct.mat not found at {path}")
    records = []
    with h5py.File(path, "r") as f:
        if "digitStruct" not in f or "name" not in f["digitStruct"] or "bbox" not in f["digitStruct"]:
            raise ValueError(f"{path} is not an SVHN digitStruct.mat: it needs the datasets digitStruct/name "
                             f"and digitStruct/bbox, found {list(f.keys())}")
        names = np.asarray(f["digitStruct/name"]).ravel()
        bboxes = np.asarray(f["digitStruct/bbox"]).ravel()
        if len(names) != len(bboxes):
            raise ValueError(f"{path}: {len(names)} names but {len(bboxes)} bboxes")
        count = len(names) if limit is None else min(limit, len(names))
        for i in range(count):
            name = "".join(chr(int(c)) for c in np.asarray(f[names[i]]).ravel())
            group = f[bboxes[i]]
            fields = {k: _field_values(f, group[k]) for k in (*BOX_FIELDS, "label")}
            k = len(fields["label"])
            if any(len(fields[b]) != k for b in BOX_FIELDS):
                raise ValueError(f"{path}: record {i} ({name}) has fields of different lengths "
                                 f"{ {key: len(v) for key, v in fields.items()} }")
            boxes = np.array([fields[b] for b in BOX_FIELDS], dtype=np.float64).T.reshape(k, 4)
            digits = [int(v) % 10 for v in fields["label"]]
            records.append(DigitRecord(name, boxes, digits))
    return records


def _matlab_header() -> bytes:
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created by: stn_course HDF5 schema 1.00 ."
    return text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"


def write_digit_struct(path: str | Path, records: Sequence[DigitRecord]) -> None:
    """Write ``records`` as a ``digitStruct.mat`` in SVHN's MATLAB v7.3 layout (the reverse of
    :func:`read_digit_struct`). Digit 0 is stored as label 10, as in the real files."""
    import h5py

    path = Path(path)
    with h5py.File(path, "w", userblock_size=512) as f:
        refs = f.create_group("#refs#")
        counter = iter(range(10**9))

        def new(data, cls: bytes):
            ds = refs.create_dataset(f"r{next(counter)}", data=data)
            ds.attrs["MATLAB_class"] = np.bytes_(cls)
            return ds

        ref_dt = h5py.ref_dtype
        n = len(records)
        names = np.empty((n, 1), dtype=object)
        bboxes = np.empty((n, 1), dtype=object)
        for i, rec in enumerate(records):
            chars = new(np.array([[ord(c)] for c in rec.name], dtype=np.uint16), b"char")
            chars.attrs["MATLAB_int_decode"] = np.int32(2)
            names[i, 0] = chars.ref
            group = refs.create_group(f"g{i}")
            group.attrs["MATLAB_class"] = np.bytes_(b"struct")
            values = {b: rec.boxes[:, j] for j, b in enumerate(BOX_FIELDS)}
            values["label"] = np.array([d if d != 0 else 10 for d in rec.digits], dtype=np.float64)
            for key in ("height", "label", "left", "top", "width"):
                v = np.asarray(values[key], dtype=np.float64)
                if len(v) == 1:
                    ds = group.create_dataset(key, data=v.reshape(1, 1))
                    ds.attrs["MATLAB_class"] = np.bytes_(b"double")
                else:
                    cell = np.array([[new(np.array([[x]]), b"double").ref] for x in v], dtype=ref_dt)
                    ds = group.create_dataset(key, data=cell, dtype=ref_dt)
                    ds.attrs["MATLAB_class"] = np.bytes_(b"cell")
            bboxes[i, 0] = group.ref
        top = f.create_group("digitStruct")
        top.attrs["MATLAB_class"] = np.bytes_(b"struct")
        top.create_dataset("name", data=names, dtype=ref_dt).attrs["MATLAB_class"] = np.bytes_(b"cell")
        top.create_dataset("bbox", data=bboxes, dtype=ref_dt).attrs["MATLAB_class"] = np.bytes_(b"struct")
    with open(path, "r+b") as fh:
        fh.write(_matlab_header())
