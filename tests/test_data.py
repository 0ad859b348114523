"""MNIST, the paper's splits, DistortedMNIST / MNISTAddition and the make_distorted_mnist script.

Uses the real MNIST under $STN_COURSE_DATA (CI points it at the shared copy); generation runs
on small prefixes of the splits (``size=``) to stay fast.
"""

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
import torch

from stn_course import data
from stn_course.config import data_root

ROOT = data_root()
HAVE_MNIST = not data._mnist_missing(ROOT)
needs_mnist = pytest.mark.skipif(not HAVE_MNIST, reason=f"MNIST is not in {ROOT}/MNIST/raw (set STN_COURSE_DATA)")
OUT = {"R": 28, "RTS": 42, "P": 28, "E": 28, "TC": 60}
SCRIPT = Path(__file__).resolve().parents[1] / "data_scripts" / "make_distorted_mnist.py"


def load_script():
    spec = importlib.util.spec_from_file_location("make_distorted_mnist", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------- splits

def test_split_sizes_and_disjointness():
    train, val, test = (data.split_indices(s) for s in data.SPLITS)
    assert (len(train), len(val), len(test)) == (50_000, 10_000, 10_000)
    both = torch.cat([train, val])
    assert torch.equal(both.sort().values, torch.arange(60_000))  # disjoint and complete
    assert torch.equal(test, torch.arange(10_000))
    assert torch.equal(data.split_indices("train", 0), train)  # fixed by the seed
    assert not torch.equal(data.split_indices("train", 1), train)
    with pytest.raises(ValueError, match="split"):
        data.split_indices("validation")


@needs_mnist
def test_mnist_split_labels_follow_indices():
    images, labels, idx = data.mnist_split("val")
    all_images, all_labels = data.mnist_tensors(True, str(ROOT))
    assert images.shape == (10_000, 1, 28, 28) and labels.dtype == torch.int64
    assert torch.equal(labels, all_labels[idx]) and torch.equal(images[:5], all_images[idx[:5]])


# ----------------------------------------------------------------------------- errors

def test_missing_mnist_is_a_clear_error(tmp_path):
    with pytest.raises(data.DataNotFoundError) as err:
        data.DistortedMNIST(root=tmp_path, distortion="R", split="test", download=False)
    message = str(err.value)
    assert str(tmp_path / "MNIST" / "raw") in message and "STN_COURSE_DATA" in message
    assert "t10k-images-idx3-ubyte" in message
    with pytest.raises(data.DataNotFoundError, match=str(tmp_path)):
        data.mnist(False, tmp_path, download=False)


def test_corrupt_mnist_is_a_clear_error(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in data.MNIST_FILES:
        (raw / name).write_bytes(b"\x00\x00\x08\x03" + b"\x00" * 20)  # truncated
    with pytest.raises(data.DataNotFoundError, match="corrupt") as err:
        data.mnist(False, tmp_path, download=False)
    assert str(raw) in str(err.value) and "t10k-images-idx3-ubyte" in str(err.value)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="distortion"):
        data.DistortedMNIST(distortion="X")
    with pytest.raises(ValueError, match="split"):
        data.DistortedMNIST(distortion="R", split="dev")
    with pytest.raises(ValueError, match="sigmaa"):
        data.recipe_options("E", {"sigmaa": 2.0})


# ----------------------------------------------------------------------------- datasets

@needs_mnist
@pytest.mark.parametrize("name", data.DISTORTIONS)
def test_distorted_mnist_items(name):
    ds = data.DistortedMNIST(distortion=name, split="test", size=64)
    assert len(ds) == 64
    x, y = ds[3]
    s = OUT[name]
    assert x.shape == (1, s, s) and x.dtype == torch.float32 and isinstance(y, int)
    assert 0 <= x.min() and x.max() <= 1 and x.max() > 0.5
    assert ds.data.dtype == torch.uint8 and ds.data.shape == (64, 1, s, s)
    _, labels = data.mnist_tensors(False, str(ROOT))
    assert torch.equal(ds.targets, labels[ds.indices])  # labels preserved
    assert all(v.shape[0] == 64 for v in ds.params.values())
    images, targets = ds.tensors()
    assert torch.equal(images[3], x) and torch.equal(targets, ds.targets)


@needs_mnist
def test_generation_is_deterministic_and_seeded():
    a = data.generate_split("RTS", "val", seed=0, size=128)
    b = data.generate_split("RTS", "val", seed=0, size=128)
    c = data.generate_split("RTS", "val", seed=1, size=128)
    assert torch.equal(a["images"], b["images"]) and torch.equal(a["labels"], b["labels"])
    assert not torch.equal(a["images"], c["images"]) and torch.equal(a["labels"], c["labels"])
    prefix = data.generate_split("RTS", "val", seed=0, size=32)
    assert torch.equal(prefix["images"], a["images"][:32])  # a prefix is the full split's start
    two = data.generate_split("RTS", "val", seed=0, size=128, threads=2)
    assert torch.equal(two["images"], a["images"])  # the thread count does not change the bytes


@needs_mnist
def test_splits_get_different_distortions():
    val = data.split_params("R", "val", 0)["angle"]
    test = data.split_params("R", "test", 0)["angle"]
    assert not torch.equal(val, test)


@needs_mnist
def test_generated_images_match_the_recipe_on_the_mnist_digits():
    result = data.generate_split("E", "test", seed=0, size=16)
    images, _, _ = data.mnist_split("test")
    expected, _ = data._dist.elastic(images[:16], params=result["params"])
    assert torch.equal(result["images"], data._to_uint8(expected))


@needs_mnist
def test_fresh_draws_new_training_distortions_per_epoch():
    ds = data.DistortedMNIST(distortion="R", split="train", fresh=True, size=64)
    first = ds.data.clone()
    ds.set_epoch(1)
    assert not torch.equal(ds.data, first) and ds.epoch == 1
    ds.set_epoch(0)
    assert torch.equal(ds.data, first)
    fixed = data.DistortedMNIST(distortion="R", split="train", fresh=False, size=64)
    fixed.set_epoch(5)
    assert torch.equal(fixed.data, first) and fixed.epoch == 0


@needs_mnist
def test_mnist_addition():
    ds = data.MNISTAddition(split="val", size=64)
    x, y = ds[0]
    assert x.shape == (2, 42, 42) and x.dtype == torch.float32 and 0 <= y <= 18
    _, labels = data.mnist_tensors(True, str(ROOT))
    assert ds.indices.shape == (64, 2) and (ds.indices[:, 0] != ds.indices[:, 1]).all()
    assert torch.equal(ds.targets, labels[ds.indices[:, 0]] + labels[ds.indices[:, 1]])
    assert (ds.data[:, 0].float().sum(dim=(1, 2)) > 0).all() and (ds.data[:, 1].float().sum(dim=(1, 2)) > 0).all()


# ----------------------------------------------------------------------------- the script

@pytest.fixture
def root_with_mnist(tmp_path):
    if not HAVE_MNIST:
        pytest.skip(f"MNIST is not in {ROOT}/MNIST/raw")
    (tmp_path / "MNIST").symlink_to(ROOT / "MNIST", target_is_directory=True)
    return tmp_path


def test_script_is_reproducible_refuses_to_overwrite_and_feeds_the_dataset(root_with_mnist, tmp_path, capsys):
    script = load_script()
    args = ["--root", str(root_with_mnist), "--recipes", "TC", "--size", "40", "--no-download"]
    assert script.main(args) == 0  # default out: <root>/distorted_mnist/seed_0
    folder = data.distorted_dir(root_with_mnist, 0) / "TC"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["recipe"] == "TC" and manifest["seed"] == 0 and manifest["count"] == {"train": 40, "val": 40,
                                                                                            "test": 40}
    assert manifest["options"]["num_clutter"] == 6 and manifest["stn_course_version"]
    for split, files in manifest["files"].items():
        for name, info in files.items():
            assert data.sha256(folder / name) == info["sha256"]

    other = tmp_path / "again"
    assert script.main(args + ["--out", str(other), "--splits", "test"]) == 0
    written = sorted(p.name for p in (other / "TC").iterdir() if p.name.startswith("test-"))
    assert len(written) == 3
    for name in written:
        assert (folder / name).read_bytes() == (other / "TC" / name).read_bytes(), name  # same seed, same bytes

    before = (folder / "test-images-idx3-ubyte").stat().st_mtime_ns
    capsys.readouterr()
    assert script.main(args) == 1  # refuses to overwrite
    assert "refusing to overwrite" in capsys.readouterr().err
    assert (folder / "test-images-idx3-ubyte").stat().st_mtime_ns == before
    assert script.main(args + ["--force", "--splits", "test"]) == 0
    assert (folder / "test-images-idx3-ubyte").stat().st_mtime_ns != before
    assert json.loads((folder / "manifest.json").read_text())["files"] == manifest["files"]  # others kept

    # the dataset reads the written files (a prefix of them), and they equal in-memory generation
    ds = data.DistortedMNIST(root=root_with_mnist, distortion="TC", split="test", size=24, download=False)
    fresh = data.generate_split("TC", "test", seed=0, root=root_with_mnist, size=24)
    assert torch.equal(ds.data, fresh["images"]) and torch.equal(ds.targets, fresh["labels"])
    assert torch.equal(ds.params["position"], fresh["params"]["position"])

    # a damaged file is a clear error
    path = folder / "test-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(data.DataNotFoundError, match="checksum"):
        data.DistortedMNIST(root=root_with_mnist, distortion="TC", split="test", size=24, download=False)
    shutil.rmtree(folder)


def test_idx_round_trip(tmp_path):
    x = torch.randint(0, 256, (3, 2, 5, 7), dtype=torch.uint8)
    data.write_idx(tmp_path / "x", x)
    assert torch.equal(data.read_idx(tmp_path / "x"), x)
    i = torch.tensor([[0, -5], [70_000, 3]], dtype=torch.int32)
    data.write_idx(tmp_path / "i", i)
    assert torch.equal(data.read_idx(tmp_path / "i"), i)
    (tmp_path / "bad").write_bytes((tmp_path / "x").read_bytes()[:-1])
    with pytest.raises(data.DataNotFoundError, match="truncated"):
        data.read_idx(tmp_path / "bad")


@needs_mnist
def test_table1_splits_clean_train_fixed_eval():
    train, val, test = data.table1_splits("RTS", seed=0, size=32)
    clean, labels, _ = data.mnist_split("train")
    assert torch.equal(train[0], clean[:32]) and torch.equal(train[1], labels[:32])
    ds = data.DistortedMNIST(distortion="RTS", split="test", size=32)
    assert test[0].shape == (32, 1, 42, 42) and torch.equal(test[0], ds.tensors()[0])
    assert val[0].shape == (32, 1, 42, 42) and val[0].dtype == torch.float32


@pytest.mark.parametrize("kwargs, error", [(dict(size=2.5), TypeError), (dict(size=0), ValueError),
                                           (dict(size=20_000, split="val"), ValueError),
                                           (dict(seed="0"), TypeError)])
def test_bad_sizes_and_seeds_are_named(kwargs, error):
    """Checked before any data is read: a fractional size used to be truncated silently, size=0
    gave an empty dataset when the split had been written to disk."""
    with pytest.raises(error, match=next(iter(kwargs))):
        data.DistortedMNIST(distortion="R", **kwargs)
