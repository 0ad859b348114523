"""SVHN data: digitStruct.mat parsing, the Goodfellow et al. crops, prepare, datasets, the stand-in."""

from __future__ import annotations

import json
import tarfile

import h5py
import numpy as np
import pytest
import torch
from PIL import Image

from stn_course import svhn
from stn_course.svhn import prepared

# ------------------------------------------------------------------------------------------------
# a digitStruct.mat written by hand, in the MATLAB v7.3 layout of the real files


def write_mat_by_hand(path, records):
    """records: list of (name, [(left, top, width, height, raw_label), ...]).

    One digit: every field an inline (1, 1) double. Several: every field a (k, 1) dataset of
    references to (1, 1) doubles in #refs#. Names: references to (len, 1) uint16 char arrays.
    """
    with h5py.File(path, "w") as f:
        refs = f.create_group("#refs#")
        names, bboxes = [], []
        for i, (name, digits) in enumerate(records):
            chars = refs.create_dataset(f"name{i}", data=np.array([[ord(c)] for c in name], dtype=np.uint16))
            names.append([chars.ref])
            g = refs.create_group(f"bbox{i}")
            for j, field in enumerate(("left", "top", "width", "height", "label")):
                values = [d[j] for d in digits]
                if len(values) == 1:
                    g.create_dataset(field, data=np.array([[values[0]]], dtype=np.float64))
                else:
                    cells = [[refs.create_dataset(f"v{i}_{field}_{k}", data=np.array([[v]], dtype=np.float64)).ref]
                             for k, v in enumerate(values)]
                    g.create_dataset(field, data=np.array(cells, dtype=h5py.ref_dtype), dtype=h5py.ref_dtype)
            bboxes.append([g.ref])
        grp = f.create_group("digitStruct")
        grp.create_dataset("name", data=np.array(names, dtype=h5py.ref_dtype), dtype=h5py.ref_dtype)
        grp.create_dataset("bbox", data=np.array(bboxes, dtype=h5py.ref_dtype), dtype=h5py.ref_dtype)


RECORDS = [
    ("1.png", [(20, 8, 11, 24, 5)]),                                 # one digit: inline scalars
    ("2.png", [(30, 10, 12, 20, 1), (44, 11, 13, 21, 10), (59, 9, 12, 22, 7)]),  # "107": refs, label 10 = 0
    ("3.png", [(5, 30, 10, 16, 10), (16, 31, 9, 16, 10)]),           # "00"
]


def test_read_digit_struct_scalars_refs_and_label_10(tmp_path):
    write_mat_by_hand(tmp_path / "digitStruct.mat", RECORDS)
    recs = svhn.read_digit_struct(tmp_path / "digitStruct.mat")
    assert [r.name for r in recs] == ["1.png", "2.png", "3.png"]
    assert [r.digits for r in recs] == [[5], [1, 0, 7], [0, 0]]
    np.testing.assert_array_equal(recs[1].boxes, [[30, 10, 12, 20], [44, 11, 13, 21], [59, 9, 12, 22]])
    np.testing.assert_array_equal(recs[0].boxes, [[20, 8, 11, 24]])
    assert len(svhn.read_digit_struct(tmp_path / "digitStruct.mat", limit=2)) == 2


def test_read_digit_struct_rejects_other_files(tmp_path):
    with h5py.File(tmp_path / "x.mat", "w") as f:
        f.create_dataset("something", data=[1])
    with pytest.raises(ValueError, match="digitStruct"):
        svhn.read_digit_struct(tmp_path / "x.mat")
    with pytest.raises(FileNotFoundError):
        svhn.read_digit_struct(tmp_path / "missing.mat")


def test_write_digit_struct_has_the_matlab_layout_and_round_trips(tmp_path):
    recs = [svhn.DigitRecord(n, np.array([d[:4] for d in ds], float), [d[4] % 10 for d in ds]) for n, ds in RECORDS]
    path = tmp_path / "digitStruct.mat"
    svhn.write_digit_struct(path, recs)
    assert path.read_bytes()[:10] == b"MATLAB 7.3"
    with h5py.File(path, "r") as f:
        assert f["digitStruct/name"].shape == (3, 1) and h5py.check_ref_dtype(f["digitStruct/name"].dtype)
        one, three = f[f["digitStruct/bbox"][0, 0]], f[f["digitStruct/bbox"][1, 0]]
        assert one["label"].shape == (1, 1) and one["label"].dtype == np.float64
        assert three["label"].shape == (3, 1) and h5py.check_ref_dtype(three["label"].dtype)
        assert [f[r][0, 0] for r in three["label"][:, 0]] == [1.0, 10.0, 7.0]   # 0 stored as 10
    back = svhn.read_digit_struct(path)
    assert [(r.name, r.digits) for r in back] == [(r.name, r.digits) for r in recs]
    for a, b in zip(back, recs):
        np.testing.assert_array_equal(a.boxes, b.boxes)


# ------------------------------------------------------------------------------------------------
# the crop window


def test_crop_window_expands_the_union_box_by_30_percent():
    boxes = np.array([[30, 10, 12, 20], [44, 11, 13, 21], [59, 9, 12, 22]], float)
    np.testing.assert_array_equal(svhn.sequence_box(boxes), [30, 9, 71, 32])
    # centre (50.5, 20.5), size 41 × 23 → 53.3 × 29.9
    np.testing.assert_allclose(svhn.crop_window(boxes, (200, 100)),
                               [50.5 - 26.65, 20.5 - 14.95, 50.5 + 26.65, 20.5 + 14.95])
    # the loose window: 2.6 × the size, clipped to the 100 × 60 photo
    np.testing.assert_allclose(svhn.crop_window(boxes, (100, 60), factor=svhn.LOOSE_FACTOR),
                               [0, 0, 100, 20.5 + 29.9])


def test_crop_window_rejects_bad_boxes():
    with pytest.raises(ValueError, match=r"boxes must have shape \(k, 4\)"):
        svhn.crop_window(np.zeros((0, 4)), (10, 10))
    with pytest.raises(ValueError, match="outside the image"):
        svhn.crop_window(np.array([[50, 50, 5, 5]], float), (10, 10))


def test_encode_decode_digits():
    np.testing.assert_array_equal(svhn.encode_digits([1, 0, 7]), [1, 0, 7, 10, 10])
    assert svhn.decode_digits([1, 0, 7, 10, 10]) == "107"
    assert svhn.decode_digits(torch.tensor([4, 10, 3, 10, 10])) == "4"
    with pytest.raises(ValueError, match="digits must be 1 to 5"):
        svhn.encode_digits([1, 2, 3, 4, 5, 6])
    with pytest.raises(ValueError, match="digits must be"):
        svhn.encode_digits([10])


# ------------------------------------------------------------------------------------------------
# prepare on a hand-made archive of ramp photographs: every crop pixel must show the photo
# position the window puts it at (a linear ramp survives bilinear resampling unchanged)


def ramp_photo(w, h):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    r = (xx + 0.5) * 250 / w
    g = (yy + 0.5) * 250 / h
    return np.stack([r, g, np.full_like(r, 77)], -1).round().astype(np.uint8)


PHOTO_SIZES = {"1.png": (120, 70), "2.png": (160, 60), "3.png": (60, 80), "4.png": (200, 90)}
ARCHIVE = [*RECORDS, ("4.png", [(10 + 14 * k, 20, 12, 30, k + 1) for k in range(6)])]  # six digits: dropped


@pytest.fixture(scope="module")
def ramp_archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("svhn")
    folder = root / "raw" / "train"
    folder.mkdir(parents=True)
    for name, (w, h) in PHOTO_SIZES.items():
        Image.fromarray(ramp_photo(w, h)).save(folder / name)
    write_mat_by_hand(folder / "digitStruct.mat", ARCHIVE)
    with tarfile.open(root / "raw" / "train.tar.gz", "w:gz") as tar:
        tar.add(folder, arcname="train")
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()
    manifest = svhn.prepare(root, splits=["train"])
    return root, manifest


def test_prepare_counts_drops_and_manifest(ramp_archive):
    root, manifest = ramp_archive
    entry = manifest["splits"]["train"]
    assert entry["count"] == 3 and entry["dropped_longer_than_5"] == 1
    assert entry["length_counts"] == {"1": 1, "2": 1, "3": 1, "4": 0, "5": 0}
    on_disk = json.loads((root / "prepared" / "manifest.json").read_text())
    assert on_disk == json.loads(json.dumps(manifest))
    for name, info in entry["files"].items():
        assert prepared._sha256(root / "prepared" / name) == info["sha256"]
        assert list(np.load(root / "prepared" / name, mmap_mode="r").shape) == info["shape"]
    images, labels = svhn.load_prepared("train", 64, root, verify=True)
    assert images.shape == (3, 64, 64, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, [[5, 10, 10, 10, 10], [1, 0, 7, 10, 10], [0, 0, 10, 10, 10]])
    assert svhn.load_prepared("train", 128, root)[0].shape == (3, 128, 128, 3)


@pytest.mark.parametrize("size", [64, 128])
def test_prepared_crops_show_the_window_they_were_cut_from(ramp_archive, size):
    root, _ = ramp_archive
    images, _ = svhn.load_prepared("train", size, root)
    windows = np.load(root / "prepared" / f"train_{size}_windows.npy")
    factor = 1.3 * (1 if size == 64 else 2)
    for (name, digits), image, window in zip(RECORDS, images, windows):
        w, h = PHOTO_SIZES[name]
        boxes = np.array([d[:4] for d in digits], float)
        x0, y0 = boxes[:, 0].min(), boxes[:, 1].min()
        x1, y1 = (boxes[:, 0] + boxes[:, 2]).max(), (boxes[:, 1] + boxes[:, 3]).max()
        cx, cy, hw, hh = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) * factor / 2, (y1 - y0) * factor / 2
        expected = [max(0, cx - hw), max(0, cy - hh), min(w, cx + hw), min(h, cy + hh)]
        np.testing.assert_allclose(window, expected, rtol=1e-6)
        # pixel (i, j) of the crop samples the photo at the window position of its centre
        centres = (np.arange(size) + 0.5) / size
        x = expected[0] + centres * (expected[2] - expected[0])
        y = expected[1] + centres * (expected[3] - expected[1])
        inner = slice(3, size - 3)   # away from the photo's edges, where the resampling filter is cut
        np.testing.assert_allclose(image[inner, inner, 0], np.broadcast_to(x[inner] * 250 / w, (size - 6, size - 6)),
                                   atol=1.5)
        np.testing.assert_allclose(image[inner, inner, 1], np.broadcast_to((y[inner] * 250 / h)[:, None],
                                                                           (size - 6, size - 6)), atol=1.5)
        assert (image[..., 2] == 77).all()


def test_load_prepared_detects_corruption_and_absence(ramp_archive, tmp_path):
    with pytest.raises(svhn.DataNotPreparedError, match="prepare_svhn.py"):
        svhn.load_prepared("train", 64, tmp_path)
    assert not svhn.prepared_available(tmp_path)
    root, _ = ramp_archive
    assert svhn.prepared_available(root, splits=("train",))
    copy = tmp_path / "copy"
    (copy / "prepared").mkdir(parents=True)
    for p in (root / "prepared").iterdir():
        (copy / "prepared" / p.name).write_bytes(p.read_bytes())
    data = bytearray((copy / "prepared" / "train_64.npy").read_bytes())
    data[-1] ^= 0xFF
    (copy / "prepared" / "train_64.npy").write_bytes(bytes(data))
    with pytest.raises(svhn.DataNotPreparedError, match="SHA-256"):
        svhn.load_prepared("train", 64, copy, verify=True)
    with pytest.raises(svhn.DataNotPreparedError, match="no 'test' split"):
        svhn.load_prepared("test", 64, root)


def test_prepare_says_how_to_get_missing_archives(tmp_path):
    with pytest.raises(svhn.DataNotPreparedError, match="fetch_svhn.py"):
        svhn.prepare(tmp_path, splits=["test"])


def test_prepare_on_a_synthetic_archive_keeps_labels_and_boxes(tmp_path):
    raw = tmp_path / "raw"
    svhn.write_synthetic_archive(raw, "test", n=10, seed=3, extra_digits=2)
    manifest = svhn.prepare(tmp_path, splits=["test"], sizes=[64])
    assert manifest["splits"]["test"]["count"] == 10
    assert manifest["splits"]["test"]["dropped_longer_than_5"] == 2
    recs = svhn.read_digit_struct(raw / "test" / "digitStruct.mat")   # extracted by prepare
    images, labels = svhn.load_prepared("test", 64, tmp_path)
    for rec, label, image in zip(recs, labels, images):
        assert svhn.decode_digits(label) == "".join(map(str, rec.digits))
        with Image.open(raw / "test" / rec.name) as photo:
            expect = svhn.crop_resize(photo, svhn.crop_window(rec.boxes, photo.size), 64)
        np.testing.assert_array_equal(image, expect)


# ------------------------------------------------------------------------------------------------
# crops and the dataset


def test_random_crop_takes_windows_of_each_image():
    images = torch.arange(4 * 2 * 9 * 9, dtype=torch.float32).view(4, 2, 9, 9)
    out = svhn.random_crop(images, 5, torch.Generator().manual_seed(0))
    assert out.shape == (4, 2, 5, 5)
    offsets = set()
    for img, crop in zip(images, out):
        found = [(y, x) for y in range(5) for x in range(5) if torch.equal(img[:, y:y + 5, x:x + 5], crop)]
        assert len(found) == 1
        offsets.add(found[0])
    assert len(offsets) > 1
    with pytest.raises(ValueError, match="crop must be in 1..9"):
        svhn.random_crop(images, 10)


def test_center_crop_and_dataset():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (6, 64, 64, 3), dtype=np.uint8)
    labels = np.array([svhn.encode_digits([i, 1]) for i in range(6)])
    test = svhn.SVHNSequences(images, labels, train=False)
    x, y = test[2]
    assert x.shape == (3, 54, 54) and x.dtype == torch.float32 and y.dtype == torch.int64
    torch.testing.assert_close(x, torch.from_numpy(images[2, 5:59, 5:59]).permute(2, 0, 1).float() / 255)
    assert y.tolist() == [2, 1, 10, 10, 10]
    train = svhn.SVHNSequences(images, labels, train=True)
    torch.manual_seed(0)
    crops = {tuple(train[0][0][0, 0, :2].tolist()) for _ in range(10)}
    assert len(crops) > 1
    assert svhn.SVHNSequences(images, labels, crop=None)[0][0].shape == (3, 64, 64)
    with pytest.raises(ValueError, match="labels must have shape"):
        svhn.SVHNSequences(images, labels[:, :4])


# ------------------------------------------------------------------------------------------------
# the stand-in


def test_synthetic_house_numbers_are_labelled_like_svhn_and_deterministic():
    images, labels = svhn.synthetic_house_numbers(300, seed=5, train=False, size=40)
    assert images.shape == (300, 40, 40, 3) and images.dtype == np.uint8
    lengths = (labels != svhn.BLANK).sum(1)
    assert set(lengths.tolist()) == {1, 2, 3, 4, 5}
    for label, n in zip(labels, lengths):   # digits first, then only blanks
        assert (label[:n] < 10).all() and (label[n:] == svhn.BLANK).all()
    svhn.synthetic_house_numbers.cache_clear()
    again = svhn.synthetic_house_numbers(300, seed=5, train=False, size=40)
    np.testing.assert_array_equal(again[0], images)
    np.testing.assert_array_equal(again[1], labels)
    other = svhn.synthetic_house_numbers(300, seed=6, train=False, size=40)
    assert not np.array_equal(other[0], images)
    assert images.std() > 20   # textured, coloured, not blank


def test_stand_in_is_the_same_in_any_number_of_processes_and_prefix_stable():
    one = svhn.synthetic_house_numbers(60, seed=2, train=True, size=32, workers=1)
    two = svhn.synthetic_house_numbers(60, seed=2, train=True, size=32, workers=2)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])
    head = svhn.synthetic_house_numbers(25, seed=2, train=True, size=32, workers=1)
    np.testing.assert_array_equal(head[0], one[0][:25])   # photo i does not depend on n
    with pytest.raises(ValueError, match="workers must be a positive int"):
        svhn.synthetic_house_numbers(5, workers=0)
    with pytest.raises(ValueError, match="n must be a positive int"):
        svhn.synthetic_house_numbers(0)


def _ink_patch(grey: np.ndarray) -> torch.Tensor:
    """A digit's ink (either polarity) as a normalised 20×20 patch."""
    ink = torch.from_numpy(np.abs(grey - np.median(grey)).astype(np.float32))[None, None]
    patch = torch.nn.functional.interpolate(ink, size=(20, 20), mode="bilinear", antialias=True).flatten()
    return (patch - patch.mean()) / (patch.std() + 1e-6)


def test_stand_in_labels_name_the_digits_in_the_boxes():
    from stn_course.data import mnist_tensors

    # a class-mean template per digit, from MNIST's test digits cropped to their ink
    mnist_images, mnist_labels = mnist_tensors(False)
    templates = torch.stack([torch.stack([_ink_patch(svhn.standin._ink(im[0].numpy()))
                                          for im in mnist_images[mnist_labels == d][:200]]).mean(0) for d in range(10)])
    right = total = 0
    photos = svhn.synthetic_photos(60, seed=4, train=False)
    _, labels = svhn.synthetic_house_numbers(60, seed=4, train=False, size=32)
    for (photo, rec), label in zip(photos, labels):
        assert svhn.decode_digits(label) == "".join(map(str, rec.digits))
        assert len(rec.digits) == len(rec.boxes)
        for (left, top, w, h), digit in zip(rec.boxes.astype(int), rec.digits):
            patch = _ink_patch(photo[top:top + h, left:left + w].astype(np.float32).mean(2))
            right += int((templates @ patch).argmax()) == digit
            total += 1
    # the nearest class mean reads about half the boxes as their label (48% when written); a label
    # that did not belong to its box would agree by chance, 10% (± 2.3 points over these boxes)
    assert right / total > 0.3, f"{right} of {total} boxes read as their label"


def test_tight_and_centred_loose_crops_share_a_centre_and_the_loose_one_is_never_clipped():
    for photo, rec in svhn.synthetic_photos(40, seed=8, train=True):
        size = (photo.shape[1], photo.shape[0])
        tight = svhn.crop_window(rec.boxes, size)
        x0, y0, x1, y1 = svhn.sequence_box(rec.boxes)
        cx, cy, bw, bh = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0
        loose = svhn.crop_window(rec.boxes, size, factor=svhn.LOOSE_FACTOR)
        # never clipped: exactly the box grown by 1.3 and by 1.3 × LOOSE_FACTOR about its centre
        np.testing.assert_allclose(tight, [cx - 0.65 * bw, cy - 0.65 * bh, cx + 0.65 * bw, cy + 0.65 * bh])
        g = 0.65 * svhn.LOOSE_FACTOR
        np.testing.assert_allclose(loose, [cx - g * bw, cy - g * bh, cx + g * bw, cy + g * bh])
        assert (rec.boxes[:, 0] >= 0).all() and (rec.boxes[:, 1] >= 0).all()
    # the middle of the loose crop, enlarged, is the tight crop: the loose number is half the size
    tight_images, _ = svhn.synthetic_house_numbers(40, seed=8, train=True, size=64)
    loose_images, _ = svhn.synthetic_house_numbers(40, seed=8, train=True, size=64, loose=True, placement="centred")
    middle = torch.from_numpy(np.array(loose_images[:, 16:48, 16:48])).permute(0, 3, 1, 2).float()
    enlarged = torch.nn.functional.interpolate(middle, size=(64, 64), mode="bilinear", align_corners=False)
    tight = torch.from_numpy(np.array(tight_images)).permute(0, 3, 1, 2).float()
    small = torch.nn.functional.interpolate(tight, size=(32, 32), mode="area")
    big = torch.nn.functional.interpolate(small, size=(64, 64), mode="bilinear", align_corners=False)
    assert (enlarged - big).abs().mean() < 0.25 * tight.std()
    other = torch.roll(big, 1, 0)   # a different photograph is far off
    assert (enlarged - other).abs().mean() > 2 * (enlarged - big).abs().mean()


def test_clipped_window_keeps_a_share_of_the_loose_overhang_on_each_side():
    boxes = np.array([[40.0, 20.0, 10.0, 20.0], [52.0, 22.0, 10.0, 20.0]])   # the number: x 40–62, y 20–42
    size = (200, 120)
    loose = svhn.crop_window(boxes, size, factor=svhn.LOOSE_FACTOR)   # centre (51, 31), half 2.6/2 × (22, 22)
    np.testing.assert_allclose(loose, [51 - 28.6, 31 - 28.6, 51 + 28.6, 31 + 28.6])
    np.testing.assert_allclose(svhn.clipped_window(boxes, size, [1, 1, 1, 1]), loose)
    np.testing.assert_allclose(svhn.clipped_window(boxes, size, [0, 0, 0, 0]), [40, 20, 62, 42])
    # half the left overhang (17.6 px beyond x = 40), a quarter of the bottom one (beyond y = 42)
    np.testing.assert_allclose(svhn.clipped_window(boxes, size, [0.5, 1, 1, 0.25]),
                               [40 - 8.8, 31 - 28.6, 51 + 28.6, 42 + 0.25 * 17.6])
    with pytest.raises(ValueError, match="room must be 4 shares"):
        svhn.clipped_window(boxes, size, [0.5, 1.2, 1, 1])
    with pytest.raises(ValueError, match="placement"):
        svhn.synthetic_house_numbers(2, loose=True, placement="random")


def _number_in_windows(n: int, placement: str) -> np.ndarray:
    """(n, 3): the number's centre (x, y) and width as shares of its loose window."""
    digits = svhn.standin._mnist_digits(False)
    out = []
    for i in range(n):
        photo, rec = svhn.standin._photo(i, 5, False, digits, svhn.LENGTH_PROBS)
        size = (photo.shape[1], photo.shape[0])
        x0, y0, x1, y1 = svhn.standin._window(i, 5, False, rec, size, True, placement)
        b = svhn.sequence_box(rec.boxes)
        # the tight window always fits inside a loose one: no tight crop is ever cut
        t = svhn.crop_window(rec.boxes, size)
        assert x0 <= t[0] + 1e-9 and y0 <= t[1] + 1e-9 and t[2] <= x1 + 1e-9 and t[3] <= y1 + 1e-9
        out.append([((b[0] + b[2]) / 2 - x0) / (x1 - x0), ((b[1] + b[3]) / 2 - y0) / (y1 - y0), (b[2] - b[0]) / (x1 - x0)])
    return np.array(out)


def test_clipped_loose_crops_move_and_scale_the_number_and_centred_ones_do_not():
    centred, clipped = _number_in_windows(200, "centred"), _number_in_windows(200, "clipped")
    np.testing.assert_allclose(centred[:, :2], 0.5, atol=1e-9)
    np.testing.assert_allclose(centred[:, 2], 1 / (1.3 * svhn.LOOSE_FACTOR), atol=1e-9)
    # clipped: the number's centre ranges over the middle of the crop, its width from 1 / 2.6 of it
    # (all the room on both sides) to 1 / 1.32 (0.2 of the 0.8-box overhang on both sides)
    assert clipped[:, 0].std() > 0.05 and clipped[:, 1].std() > 0.05
    assert clipped[:, 0].min() < 0.4 and clipped[:, 0].max() > 0.6
    overhang = (1.3 * svhn.LOOSE_FACTOR - 1) / 2
    assert clipped[:, 2].min() >= 1 / 2.6 - 1e-9
    assert clipped[:, 2].max() <= 1 / (1 + 2 * svhn.ROOM_RANGE[0] * overhang) + 1e-9
    assert clipped[:, 2].std() > 0.05
    # the tight crops do not depend on how the loose ones are framed
    a, _ = svhn.synthetic_house_numbers(6, seed=5, train=False, size=32, workers=1, placement="centred")
    b, _ = svhn.synthetic_house_numbers(6, seed=5, train=False, size=32, workers=1, placement="clipped")
    np.testing.assert_array_equal(a, b)


def test_compose_house_number_boxes_hold_the_digits():
    rng = np.random.default_rng(1)
    digit = np.zeros((28, 28), np.float32)
    digit[4:24, 10:18] = 1.0   # a solid bar
    photo, boxes = svhn.compose_house_number([digit, digit, digit], rng)
    assert boxes.shape == (3, 4)
    h, w = photo.shape[:2]
    for left, top, bw, bh in boxes:
        assert 0 <= left and left + bw <= w and 0 <= top and top + bh <= h
        assert svhn.standin.HEIGHT_RANGE[0] * 0.9 <= bh <= svhn.standin.HEIGHT_RANGE[1] * 1.1
    assert (np.diff(boxes[:, 0]) > 0).all()   # left to right
    with pytest.raises(ValueError, match="digits must hold 1 to 6 images"):
        svhn.compose_house_number([], rng)
    with pytest.raises(ValueError, match="blank image"):
        svhn.compose_house_number([np.zeros((28, 28))], rng)


def test_every_background_kind_is_textured_and_deterministic():
    from stn_course.svhn import textures

    for kind in textures.KINDS:
        a = textures.background(np.random.default_rng(3), 40, 90, kind)
        b = textures.background(np.random.default_rng(3), 40, 90, kind)
        assert a.shape == (40, 90, 3)
        np.testing.assert_array_equal(a, b)
        assert a.std(axis=(0, 1)).mean() > 0.01, kind   # not a flat colour
