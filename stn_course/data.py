"""Datasets: MNIST, the paper's splits, distorted MNIST and MNIST addition, from one place.

The data root is :func:`stn_course.config.data_root` (``$STN_COURSE_DATA`` or a per-user
cache). MNIST is read from ``<root>/MNIST/raw`` in torchvision's layout; where the files
are missing it is downloaded, and where that fails the error says where it looked and how
to provide the files.

The paper's splits (Jaderberg et al. 2015): 50,000 training and 10,000
validation digits from MNIST's training set (a random split fixed by ``split_seed``), and
MNIST's 10,000 test digits. :class:`DistortedMNIST` distorts a split with one of the
recipes of :mod:`stn_course.distortions`; every split is fixed by ``seed``, and with
``fresh=True`` the training distortions are drawn anew for each epoch (call
:meth:`DistortedMNIST.set_epoch`). The distorted images are stored as 8-bit integers, like
MNIST itself, and returned as floats in [0, 1].

``data_scripts/make_distorted_mnist.py`` writes the fixed splits to
``<root>/distorted_mnist/seed_<seed>/<recipe>/`` (IDX files, as MNIST, plus a
``manifest.json``); where they exist the datasets read them (after checking their
checksums), otherwise they generate the same bytes in memory.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import torch
from torch.utils.data import Dataset

from . import distortions as _dist
from ._checks import check_choice, check_int
from .config import data_root

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
#: Sizes in bytes of the uncompressed MNIST files (16- or 8-byte header + data).
MNIST_BYTES = {"train-images-idx3-ubyte": 47_040_016, "train-labels-idx1-ubyte": 60_008,
               "t10k-images-idx3-ubyte": 7_840_016, "t10k-labels-idx1-ubyte": 10_008}

SPLITS = ("train", "val", "test")
SPLIT_SIZES = {"train": 50_000, "val": 10_000, "test": 10_000}
DISTORTIONS = _dist.NAMES
#: Examples rendered at a time when generating a split (fixed, so the bytes never depend on it).
CHUNK = 2048


class DataNotFoundError(FileNotFoundError):
    """A dataset is missing (or corrupt) and could not be fetched."""


# ----------------------------------------------------------------------------- MNIST

def _mnist_missing(root: Path) -> list[str]:
    raw = root / "MNIST" / "raw"
    return [f for f in MNIST_FILES if not (raw / f).exists() and not (raw / f"{f}.gz").exists()]


def _mnist_wrong_size(root: Path) -> list[str]:
    raw = root / "MNIST" / "raw"
    return [f"{f} ({(raw / f).stat().st_size} bytes, expected {n})" for f, n in MNIST_BYTES.items()
            if (raw / f).exists() and (raw / f).stat().st_size != n]


def _corrupt_message(root: Path, detail: str) -> str:
    return (f"MNIST in {root / 'MNIST' / 'raw'} looks corrupt: {detail}. Delete the damaged files and run again "
            "to download them, or copy intact files there (the published MD5 sums are listed at "
            "http://yann.lecun.com/exdb/mnist/ and in torchvision.datasets.MNIST.resources).")


def mnist(train: bool = True, root: str | Path | None = None, download: bool = True):
    """torchvision's ``MNIST`` dataset (PIL images, int labels) under the course's data root."""
    from torchvision.datasets import MNIST

    root = Path(root) if root is not None else data_root()
    if _mnist_missing(root) and not download:
        raise DataNotFoundError(_missing_message(root))
    wrong = _mnist_wrong_size(root)
    if wrong:
        raise DataNotFoundError(_corrupt_message(root, "wrong size: " + ", ".join(wrong)))
    needs_download = bool(_mnist_missing(root)) and download
    try:
        return MNIST(str(root), train=train, download=needs_download)
    except (RuntimeError, OSError) as err:
        if needs_download or _mnist_missing(root):
            raise DataNotFoundError(_missing_message(root) + f"\n(the download failed: {err})") from err
        raise DataNotFoundError(_corrupt_message(root, f"torchvision could not read it ({err})")) from err
    except (AssertionError, ValueError) as err:
        raise DataNotFoundError(_corrupt_message(root, f"torchvision could not parse it ({err!r})")) from err


def _missing_message(root: Path) -> str:
    return (f"MNIST was not found in {root / 'MNIST' / 'raw'} (missing: {', '.join(_mnist_missing(root))}). "
            "Set STN_COURSE_DATA to a folder that holds MNIST/raw/ with the four IDX files "
            f"({', '.join(MNIST_FILES)}), or connect to the internet so torchvision can download them.")


def mnist_tensors(train: bool = True, root: str | Path | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole MNIST split as tensors: images (N, 1, 28, 28) float32 in [0, 1], labels (N,) int64.

    Cached (per split and per real location of ``<root>/MNIST``, links resolved), so chapters
    and the benchmark can call it freely.
    """
    root_path = Path(root) if root is not None else data_root()
    return _mnist_tensors(bool(train), str((root_path / "MNIST").resolve().parent))


@lru_cache(maxsize=4)
def _mnist_tensors(train: bool, root: str) -> tuple[torch.Tensor, torch.Tensor]:
    ds = mnist(train, root)
    images = ds.data.unsqueeze(1).float().div_(255.0)
    if images.shape[1:] != (1, 28, 28) or len(images) != len(ds.targets):
        raise DataNotFoundError(f"MNIST under {ds.root} looks corrupt: images {tuple(images.shape)}, "
                                f"labels {tuple(ds.targets.shape)}; delete the files and fetch them again")
    return images, ds.targets.long()


# ----------------------------------------------------------------------------- the paper's splits

def split_indices(split: str, split_seed: int = 0) -> torch.Tensor:
    """Indices (into MNIST's training set for "train"/"val", its test set for "test") of a paper split.

    "train" and "val" are the first 50,000 and the last 10,000 of a random permutation of
    MNIST's 60,000 training digits, drawn from ``split_seed``; "test" is all 10,000 test digits.
    """
    check_choice("split", split, SPLITS)
    check_int("split_seed", split_seed)
    if split == "test":
        return torch.arange(SPLIT_SIZES["test"])
    perm = torch.randperm(60_000, generator=torch.Generator().manual_seed(split_seed))
    return perm[:50_000] if split == "train" else perm[50_000:]


def mnist_split(split: str, root: str | Path | None = None, *, split_seed: int = 0,
                download: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A paper split of MNIST: images (N, 1, 28, 28) float in [0, 1], labels (N,) int64, MNIST indices (N,)."""
    root_path = Path(root) if root is not None else data_root()
    if _mnist_missing(root_path) and not download:
        raise DataNotFoundError(_missing_message(root_path))
    return _cached_mnist_split(split, str(root_path), split_seed)


@lru_cache(maxsize=3)
def _cached_mnist_split(split: str, root: str, split_seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    idx = split_indices(split, split_seed)
    images, labels = mnist_tensors(split != "test", root)
    return images[idx], labels[idx], idx


# ----------------------------------------------------------------------------- IDX files

_IDX_TYPES = {torch.uint8: 0x08, torch.int32: 0x0C}


def write_idx(path: str | Path, tensor: torch.Tensor) -> None:
    """Write a uint8 or int32 tensor as an IDX file (MNIST's format: big-endian header and data)."""
    code = _IDX_TYPES.get(tensor.dtype)
    if code is None:
        raise TypeError(f"tensor must be uint8 or int32 for IDX, got {tensor.dtype}")
    header = struct.pack(">BBBB", 0, 0, code, tensor.dim()) + struct.pack(f">{tensor.dim()}I", *tensor.shape)
    data = tensor.contiguous().numpy()
    if tensor.dtype == torch.int32:
        data = data.astype(">i4")
    Path(path).write_bytes(header + data.tobytes())


def read_idx(path: str | Path) -> torch.Tensor:
    """Read an IDX file written by :func:`write_idx` (uint8 or int32)."""
    import numpy as np

    raw = Path(path).read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES.values():
        raise DataNotFoundError(f"{path} is not an IDX file of uint8/int32 (bad header); delete it and regenerate")
    dims = raw[3]
    shape = struct.unpack(f">{dims}I", raw[4:4 + 4 * dims])
    dtype = np.uint8 if raw[2] == 0x08 else np.dtype(">i4")
    body = raw[4 + 4 * dims:]
    count = 1
    for s in shape:
        count *= s
    if len(body) != count * np.dtype(dtype).itemsize:
        raise DataNotFoundError(f"{path} is truncated or padded: header says {shape}; delete it and regenerate")
    arr = np.frombuffer(body, dtype=dtype).reshape(shape)
    return torch.from_numpy(arr.astype(np.uint8 if raw[2] == 0x08 else np.int32))


def sha256(path: str | Path) -> str:
    """The SHA-256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# ----------------------------------------------------------------------------- generation

def recipe_options(distortion: str, options: dict | None = None) -> dict:
    """The recipe's options: the defaults of :data:`stn_course.distortions.RECIPES` updated with ``options``."""
    check_choice("distortion", distortion, (*DISTORTIONS, "addition"))
    merged = {k: v for k, v in _dist.RECIPES[distortion].items()}
    for k, v in (options or {}).items():
        if k not in merged:
            raise ValueError(f"options has an unknown key {k!r} for recipe {distortion}; "
                             f"known: {sorted(merged)}")
        merged[k] = v
    return merged


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return x.mul(255.0).round_().clamp_(0, 255).to(torch.uint8)


def _slice(params: dict, lo: int, hi: int) -> dict:
    return {k: v[lo:hi] for k, v in params.items()}


def split_params(distortion: str, split: str, seed: int, total: int | None = None, *, split_seed: int = 0,
                 epoch: int = 0, options: dict | None = None) -> dict:
    """The parameters :func:`generate_split` draws for a whole split (cheap: no images are rendered).

    ``total`` is the split's size (default the paper's). For "addition" the dict also holds
    ``partner`` (N,), the position in the split of each example's second digit.
    """
    opts = recipe_options(distortion, options)
    check_choice("split", split, SPLITS)
    total = SPLIT_SIZES[split] if total is None else total
    g = _dist.make_generator(seed, distortion, split, epoch, split_seed)
    draw = {k: v for k, v in opts.items() if k != "out_size"}
    size = opts["out_size"]
    if distortion == "addition":
        partner = (torch.arange(total) + _dist._randint((total,), 1, total - 1, g)) % total
        a = _dist.sample_rts(total, g, out_size=size, **draw)
        b = _dist.sample_rts(total, g, out_size=size, **draw)
        return {**{k: torch.stack([a[k], b[k]], dim=1) for k in a}, "partner": partner}
    if distortion == "TC":
        return _dist.sample_cluttered(total, g, pool_size=total, out_size=size, **draw)
    if distortion == "RTS":
        return _dist.sample_rts(total, g, out_size=size, **draw)
    if distortion == "P":
        return _dist.sample_projective(total, g, size=size, **draw)
    return _dist.sample(distortion, total, g, **draw)


def _render(distortion: str, base: torch.Tensor, lo: int, hi: int, params: dict, opts: dict) -> torch.Tensor:
    """Distort examples ``lo:hi`` of a split with the split's parameters (TC's clutter pool is the whole split)."""
    p = _slice(params, lo, hi)
    if distortion == "addition":
        out, _ = _dist.addition(base[lo:hi], base[p["partner"]], params={k: v for k, v in p.items() if k != "partner"})
    elif distortion == "TC":
        out, _ = _dist.cluttered(base[lo:hi], pool=base, params=p, out_size=opts["out_size"],
                                 clutter_size=opts["clutter_size"])
    elif distortion == "RTS":
        out, _ = _dist.rts(base[lo:hi], params=p, out_size=opts["out_size"])
    else:
        out, _ = _dist.apply(distortion, base[lo:hi], params=p)
    return out


@contextmanager
def _num_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads (None: leave torch's setting alone)."""
    if n is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def generate_split(distortion: str, split: str, seed: int = 0, root: str | Path | None = None, *,
                   split_seed: int = 0, epoch: int = 0, size: int | None = None, options: dict | None = None,
                   download: bool = True, progress: bool = False, threads: int | None = 1) -> dict:
    """Distort one paper split with one recipe, deterministically.

    Args:
        distortion: "R", "RTS", "P", "E", "TC" or "addition".
        split: "train", "val" or "test".
        seed: the distortion seed; with ``epoch`` and the split it seeds the generator
            (:func:`stn_course.distortions.make_generator`).
        size: render only the first ``size`` examples (the parameters are drawn for the whole
            split first, so a prefix is identical to the full split's first examples).
        options: overrides of the recipe's defaults (e.g. ``{"sigma": 2.0}`` for E).
        threads: torch CPU threads while rendering (None: torch's setting). The work per image
            is small, and on a small shared CPU one thread was about four times faster than two
            (``benchmarks/bench_distortions.py --threads``); the bytes do not depend on it.

    Returns:
        dict with ``images`` (N, C, S, S) uint8, ``labels`` (N,) int64, ``indices`` (N,) MNIST
        indices (N, 2) for addition, and ``params`` (a dict of (N, …) tensors).
    """
    opts = recipe_options(distortion, options)
    check_choice("split", split, SPLITS)
    base, labels, idx = mnist_split(split, root, split_seed=split_seed, download=download)
    total = len(base)
    n = total if size is None else check_int("size", size, 1)
    if n > total:
        raise ValueError(f"size must be in 1..{total} for split {split!r}, got {size}")
    params = split_params(distortion, split, seed, total, split_seed=split_seed, epoch=epoch, options=options)
    params = _slice(params, 0, n)
    chunks = []
    starts = range(0, n, CHUNK)
    if progress:
        from tqdm.auto import tqdm
        starts = tqdm(starts, desc=f"{distortion} {split}", unit="chunk", leave=False)
    with _num_threads(threads):
        for lo in starts:
            chunks.append(_to_uint8(_render(distortion, base, lo, min(lo + CHUNK, n), params, opts)))
    out_labels = labels[:n].clone()
    out_idx = idx[:n].clone()
    if distortion == "addition":
        out_labels = out_labels + labels[params["partner"]]
        out_idx = torch.stack([out_idx, idx[params["partner"]]], dim=1)
    return {"images": torch.cat(chunks), "labels": out_labels, "indices": out_idx, "params": params}


# ----------------------------------------------------------------------------- files

def distorted_dir(root: str | Path | None = None, seed: int = 0) -> Path:
    """Where the script writes (and the datasets look for) the fixed splits of ``seed``."""
    root = Path(root) if root is not None else data_root()
    return root / "distorted_mnist" / f"seed_{seed}"


def _file_names(split: str, dims: int) -> dict[str, str]:
    return {"images": f"{split}-images-idx{dims}-ubyte", "labels": f"{split}-labels-idx1-ubyte",
            "indices": f"{split}-indices-idx{1 if dims == 3 else 2}-int"}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("stn_course")
    except PackageNotFoundError:
        return "unknown"


def manifest_for(distortion: str, seed: int, split_seed: int, options: dict) -> dict:
    """The manifest's description of a recipe's files (without the per-file checksums)."""
    return {
        "dataset": "distorted MNIST (Jaderberg et al. 2015, arXiv:1506.02025, Appendix A)",
        "recipe": distortion,
        "paper": _dist.PAPER[distortion],
        "options": {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()},
        "seed": seed,
        "split_seed": split_seed,
        "splits": {s: SPLIT_SIZES[s] for s in SPLITS},
        "stn_course_version": _version(),
        "torch_version": torch.__version__.split("+")[0],
        "format": "IDX (as MNIST): images uint8 (N, C, S, S) or (N, S, S); labels uint8; indices int32 MNIST indices",
    }


def write_split(folder: Path, split: str, result: dict) -> dict[str, dict]:
    """Write one generated split's IDX files into ``folder``; return {file name: {sha256, bytes}}."""
    images = result["images"]
    if images.shape[1] == 1:
        images = images[:, 0]
    names = _file_names(split, images.dim())
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / names["images"], images)
    write_idx(folder / names["labels"], result["labels"].to(torch.uint8))
    write_idx(folder / names["indices"], result["indices"].to(torch.int32))
    return {name: {"sha256": sha256(folder / name), "bytes": (folder / name).stat().st_size}
            for name in names.values()}


def write_distorted(out: str | Path, distortion: str, *, seed: int = 0, splits: tuple[str, ...] = SPLITS,
                    root: str | Path | None = None, split_seed: int = 0, size: int | None = None,
                    options: dict | None = None, force: bool = False, download: bool = True,
                    progress: bool = False) -> Path:
    """Generate and write a recipe's fixed splits into ``out/<distortion>/`` with a ``manifest.json``.

    Refuses (``FileExistsError``) to overwrite an existing manifest or file unless ``force``.
    The same arguments always write the same bytes (no timestamps anywhere).

    Returns:
        the path of the manifest.
    """
    opts = recipe_options(distortion, options)
    folder = Path(out) / distortion
    dims = 4 if distortion == "addition" else 3
    targets = [folder / "manifest.json"] + [folder / f for s in splits for f in _file_names(s, dims).values()]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not force:
        raise FileExistsError(f"refusing to overwrite {len(existing)} existing file(s) in {folder} "
                              f"(e.g. {existing[0]}); pass force=True (--force) to replace them")
    manifest = manifest_for(distortion, seed, split_seed, opts)
    manifest["size"] = size
    manifest["count"], manifest["files"] = {}, {}
    old_path = folder / "manifest.json"
    if old_path.exists():  # (force) keep the entries of splits written before with the same recipe
        old = json.loads(old_path.read_text())
        if all(old.get(k) == manifest[k] for k in ("recipe", "options", "seed", "split_seed", "size")):
            manifest["count"] = {k: v for k, v in old.get("count", {}).items() if k not in splits}
            manifest["files"] = {k: v for k, v in old.get("files", {}).items() if k not in splits}
    for split in splits:
        result = generate_split(distortion, split, seed, root, split_seed=split_seed, size=size, options=options,
                                download=download, progress=progress)
        manifest["count"][split] = len(result["labels"])
        manifest["files"][split] = write_split(folder, split, result)
    path = folder / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return path


def _load_written(distortion: str, split: str, seed: int, split_seed: int, opts: dict,
                  root: str | Path | None, size: int | None = None) -> dict | None:
    """Read a split the script wrote, if it is there and matches; raise if it is corrupt."""
    folder = distorted_dir(root, seed) / distortion
    manifest_path = folder / "manifest.json"
    if not manifest_path.exists():
        return None
    manifest = json.loads(manifest_path.read_text())
    expected = manifest_for(distortion, seed, split_seed, opts)
    same = all(manifest.get(k) == expected[k] for k in ("recipe", "options", "seed", "split_seed"))
    files = manifest.get("files", {}).get(split)
    if not same or not files or manifest.get("count", {}).get(split, 0) < (size or SPLIT_SIZES[split]):
        return None
    for name, info in files.items():
        path = folder / name
        if not path.exists() or sha256(path) != info["sha256"]:
            raise DataNotFoundError(f"{path} is missing or does not match its checksum in {manifest_path}; "
                                    "regenerate it with data_scripts/make_distorted_mnist.py --force")
    dims = 4 if distortion == "addition" else 3
    names = _file_names(split, dims)
    images = read_idx(folder / names["images"])
    if images.dim() == 3:
        images = images[:, None]
    return {"images": images, "labels": read_idx(folder / names["labels"]).long(),
            "indices": read_idx(folder / names["indices"]).long()}


# ----------------------------------------------------------------------------- datasets

class DistortedMNIST(Dataset):
    """A distorted-MNIST split, torchvision style: ``ds[i] = (image (C, S, S) float in [0, 1], label)``.

    Args:
        root: the data root (default ``$STN_COURSE_DATA`` or the per-user cache); MNIST is read
            from ``<root>/MNIST/raw`` and fixed splits written by the script from
            ``<root>/distorted_mnist/seed_<seed>/<distortion>/``.
        distortion: "R", "RTS", "P", "E" or "TC" (see :mod:`stn_course.distortions`).
        split: "train" (50,000), "val" (10,000) or "test" (10,000), as in the paper.
        seed: fixes the distortions of every split.
        download: fetch MNIST if it is missing.
        fresh: draw new distortions for every epoch: call :meth:`set_epoch` at the start of
            each epoch (epoch 0 is the fixed split). For training on a GPU, distorting clean
            batches on the device with :func:`stn_course.distortions.apply` is the faster way.
        size: use only the first ``size`` examples (quick mode); identical to the full split's.
        split_seed: the seed of the 50k/10k train/val split.
        options: overrides of the recipe's defaults (e.g. ``{"sigma": 2.0}``).
        transform, target_transform: applied to the image tensor and to the label.

    Attributes: ``data`` (N, C, S, S) uint8, ``targets`` (N,) int64, ``indices`` (MNIST
    indices), ``params`` (the drawn parameters; see :mod:`stn_course.distortions`).
    """

    def __init__(self, root: str | Path | None = None, distortion: str = "R", split: str = "train",
                 seed: int = 0, download: bool = True, fresh: bool = False, *, size: int | None = None,
                 split_seed: int = 0, options: dict | None = None,
                 transform: Callable | None = None, target_transform: Callable | None = None):
        check_choice("distortion", distortion, self._recipes())
        check_choice("split", split, SPLITS)
        _check_size(size, split)
        check_int("seed", seed)
        check_int("split_seed", split_seed)
        self.root = Path(root) if root is not None else data_root()
        self.distortion, self.split, self.seed = distortion, split, seed
        self.download, self.fresh, self.size, self.split_seed = download, fresh, size, split_seed
        self.options = recipe_options(distortion, options)
        self.transform, self.target_transform = transform, target_transform
        self.epoch = -1
        self.set_epoch(0)

    @staticmethod
    def _recipes() -> tuple[str, ...]:
        return DISTORTIONS

    def set_epoch(self, epoch: int) -> None:
        """Use the distortions of ``epoch`` (only with ``fresh=True``; epoch 0 is the fixed split)."""
        epoch = int(epoch) if self.fresh else 0
        if epoch == self.epoch:
            return
        overrides = {k: v for k, v in self.options.items() if _dist.RECIPES[self.distortion].get(k) != v}
        result = None
        if epoch == 0:
            result = _load_written(self.distortion, self.split, self.seed, self.split_seed, self.options, self.root,
                                   self.size)
            if result is not None and self.size is not None:
                result = {k: v[:self.size] for k, v in result.items()}
        if result is None and epoch > 0:  # drawn once per epoch: not worth keeping in the cache
            result = generate_split(self.distortion, self.split, self.seed, self.root, split_seed=self.split_seed,
                                    epoch=epoch, size=self.size, options=overrides, download=self.download)
        elif result is None:
            result = _cached_split(self.distortion, self.split, self.seed, str(self.root), self.split_seed,
                                   self.size, json.dumps(overrides, sort_keys=True), self.download)
        self.data, self.targets, self.indices = result["images"], result["labels"], result["indices"]
        self.params = result.get("params")
        if self.params is None:  # read from files: the parameters are cheap to draw again
            self.params = _slice(split_params(self.distortion, self.split, self.seed, split_seed=self.split_seed,
                                              options=overrides), 0, len(result["labels"]))
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image = self.data[i].float().div_(255.0)
        label = int(self.targets[i])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return image, label

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The whole split as (images (N, C, S, S) float in [0, 1], labels (N,) int64), e.g. to move to a GPU."""
        return self.data.float().div_(255.0), self.targets.clone()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(distortion={self.distortion!r}, split={self.split!r}, seed={self.seed}, "
                f"n={len(self)}, image={tuple(self.data.shape[1:])}, fresh={self.fresh}, root={str(self.root)!r})")


class MNISTAddition(DistortedMNIST):
    """MNIST addition (the paper's Appendix A): two RTS digits in two channels, label = their sum (0–18).

    ``ds[i] = (image (2, 42, 42) float in [0, 1], label)``; the first channel holds the split's
    i-th digit, the second a random other digit of the same split (``indices[i]`` gives both
    MNIST indices). Same arguments as :class:`DistortedMNIST`, without ``distortion``.
    """

    num_classes = 19

    def __init__(self, root: str | Path | None = None, split: str = "train", seed: int = 0,
                 download: bool = True, fresh: bool = False, **kwargs):
        super().__init__(root, "addition", split, seed, download, fresh, **kwargs)

    @staticmethod
    def _recipes() -> tuple[str, ...]:
        return ("addition",)


def table1_splits(distortion: str, seed: int = 0, *, root: str | Path | None = None, split_seed: int = 0,
                  download: bool = True, size: int | None = None
                  ) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    """The data of one column of the paper's Table 1, as tensors ready for a training loop.

    Returns ``(train, val, test)``, each ``(images float in [0, 1], labels int64)``:
    ``train`` is the 50,000 *clean* training digits (N, 1, 28, 28), to be distorted afresh
    on the device for every batch with :func:`stn_course.distortions.apply`; ``val`` and
    ``test`` are the fixed distorted splits of ``seed`` (the same bytes as
    :class:`DistortedMNIST`). ``size`` keeps the first ``size`` examples of each.
    """
    check_choice("distortion", distortion, DISTORTIONS)
    _check_size(size, "val")
    images, labels, _ = mnist_split("train", root, split_seed=split_seed, download=download)
    n = len(labels) if size is None else size
    train = (images[:n], labels[:n])
    fixed = [DistortedMNIST(root, distortion, split, seed, download, size=size, split_seed=split_seed).tensors()
             for split in ("val", "test")]
    return (train, fixed[0], fixed[1])


def colocalisation_split(variant: str, split: str, digit: int, seed: int = 0, root: str | Path | None = None, *,
                         size: int | None = None, split_seed: int = 0,
                         download: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The co-localisation images of one class (appendix A.2), fixed by ``seed``.

    Every digit ``digit`` of a paper split, placed at a random spot of an 84 × 84 image
    (:func:`stn_course.distortions.colocalisation`); for "cluttered" the clutter is cut from
    the other digits of the same split, of every class.

    Returns:
        images (N, 1, 84, 84) float in [0, 1] and boxes (N, 4) float, each digit's frame
        ``(x0, y0, x1, y1)`` in pixels. ``size`` keeps the first ``size`` digits of the class
        (the same images as the whole split's first ``size``).
    """
    check_choice("variant", variant, tuple(_dist.COLOCALISATION))
    check_choice("split", split, SPLITS)
    check_int("digit", digit, 0)
    if digit > 9:
        raise ValueError(f"digit must be an int in 0..9, got {digit}")
    check_int("seed", seed)
    if size is not None:
        check_int("size", size, 1)
    base, labels, _ = mnist_split(split, root, split_seed=split_seed, download=download)
    own = (labels == digit).nonzero().squeeze(1)
    g = _dist.make_generator(seed, "colocalisation", variant, split, digit, split_seed)
    params = _dist.sample_cluttered(len(own), g, pool_size=len(base), pool_index=own,
                                    **_dist.COLOCALISATION[variant])  # drawn for the whole class: a prefix repeats
    n = len(own) if size is None else min(size, len(own))
    own, params = own[:n], _slice(params, 0, n)
    images, p = _dist.colocalisation(base[own], variant=variant, pool=base, pool_index=own, params=params)
    return images, p["box"]


def _check_size(size: int | None, split: str) -> None:
    """``size`` is None (the whole split) or an int in 1..the split's size."""
    if size is not None and check_int("size", size, 1) > SPLIT_SIZES[split]:
        raise ValueError(f"size must be in 1..{SPLIT_SIZES[split]} for split {split!r}, got {size}")


@lru_cache(maxsize=6)
def _cached_split(distortion: str, split: str, seed: int, root: str, split_seed: int, size: int | None,
                  overrides: str, download: bool) -> dict:
    return generate_split(distortion, split, seed, root, split_seed=split_seed, size=size,
                          options=json.loads(overrides), download=download)
