"""Where a submission runs: a throwaway folder, inside a bubblewrap sandbox when the machine has one.

Inside the sandbox (Debian's ``bubblewrap``), a learner's kernel sees the system, Python and
the course package read-only, MNIST (``STN_COURSE_DATA``) read-only, a ``/tmp`` and ``/dev/shm``
of bounded size (tmpfs) and its own folders; nothing else of the machine: not the instructor's
chapters or reference solutions, not the other submissions, not the grades. It has no network,
no capabilities, its own process tree (killed with it), and limits per process on memory, file
size and open files (``prlimit``). Started by root, it runs as a user of its own (``setpriv``),
which cannot read root's files and whose process count is limited (RLIMIT_NPROC). Limits for
the submission as a whole are kept from outside by :mod:`.supervisor`. Without
bubblewrap the kernel still runs in a throwaway folder under the same limits, but it can read
and write whatever the grader can: :attr:`Sandbox.description` says so, and the grades say it.
"""

from __future__ import annotations

import functools
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import stn_course

__all__ = ["Limits", "Sandbox", "Workspace", "find_sandbox"]

_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc")
NOBODY = 65534
_FIRST_UID = 610_000  # a sandbox started by root runs as a user of its own from here (no account, no files)
_uids = itertools.count()


def _drops_to_nobody() -> bool:
    """Whether the grader runs as root, so that the sandbox's kernel must run as another user."""
    return os.geteuid() == 0


@dataclass(frozen=True)
class Limits:
    """Resource limits of one submission's kernel (bytes; ``None``: no limit)."""

    memory: int | None = 6 * 2**30      # address space of each of the kernel's processes
    file_size: int | None = 64 * 2**20  # largest file the learner's code may write
    open_files: int = 256
    total_memory: int | None = None     # resident memory of all its processes together (None: ``memory``)
    tmp_size: int = 256 * 2**20         # the sandbox's /tmp, a tmpfs (in memory) of this size
    disk: int | None = 256 * 2**20      # bytes in its folders on the host's disk (work, home)
    processes: int | None = 256         # processes and threads of the sandbox's user (RLIMIT_NPROC)

    def __post_init__(self):
        for name in ("memory", "file_size", "total_memory", "disk", "processes"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise ValueError(f"{name}: expected a positive whole number or None, got {value!r}")
        if not isinstance(self.tmp_size, int) or self.tmp_size <= 0:
            raise ValueError(f"tmp_size: expected a positive whole number of bytes, got {self.tmp_size!r}")

    @property
    def tree_memory(self) -> int | None:
        """The most resident memory the submission's process tree may hold (the supervisor's limit)."""
        return self.total_memory or self.memory

    def prlimit(self, processes: bool = False) -> list[str]:
        """The ``prlimit`` command prefix that applies these limits (empty without prlimit).

        ``processes``: limit the number of processes too; RLIMIT_NPROC counts every process of
        the user, so it is only set where the sandbox runs as a user of its own.
        """
        tool = shutil.which("prlimit")
        if tool is None:
            return []
        args = [tool, f"--nofile={self.open_files}", "--core=0"]
        if self.memory:
            args.append(f"--as={self.memory}")
        if self.file_size:
            args.append(f"--fsize={self.file_size}")
        if processes and self.processes:
            args.append(f"--nproc={self.processes}")
        return [*args, "--"]


@dataclass
class Workspace:
    """One submission's throwaway folders: ``work`` (its working folder, writable), ``inbox``
    (files from the grader, read-only inside the sandbox) and ``kernel`` (connection file and
    sockets). Removed with :meth:`remove`."""

    root: Path
    uid: int = NOBODY  # the sandbox's user, when the grader is root

    @classmethod
    def create(cls, parent: str | os.PathLike | None = None) -> Workspace:
        root = Path(tempfile.mkdtemp(prefix="stn-grade-", dir=parent))
        if _drops_to_nobody():
            os.chmod(root, 0o711)  # the sandbox's own user must pass through to its folders (not list them)
        # one user per sandbox, so that its process count (RLIMIT_NPROC) is its own
        uid = _FIRST_UID + (os.getpid() % 1000) * 1000 + next(_uids) % 1000
        for sub in ("work", "inbox", "kernel", "home"):
            (root / sub).mkdir()
            if sub != "inbox" and _drops_to_nobody():
                os.chown(root / sub, uid, uid)
        return cls(root, uid)

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def kernel(self) -> Path:
        return self.root / "kernel"

    @property
    def home(self) -> Path:
        return self.root / "home"

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)  # never follows the learner's symlinks


@dataclass(frozen=True)
class Sandbox:
    """How kernels are isolated: ``tool`` is the bubblewrap executable, or None (no isolation)."""

    tool: str | None
    version: str = ""
    reason: str = ""
    limits: Limits = Limits()

    @property
    def isolated(self) -> bool:
        return self.tool is not None

    @property
    def description(self) -> str:
        """One line for the grades and the terminal."""
        if self.isolated:
            return f"bubblewrap {self.version}: isolated, no network"
        return f"NONE ({self.reason}): submissions ran with the grader's permissions, NOT isolated"

    def wrap(self, cmd: list[str], space: Workspace, env: dict[str, str]) -> list[str]:
        """``cmd`` (the kernel's command line) run inside the sandbox, under the limits."""
        if not self.isolated:
            return [*self.limits.prlimit(), *cmd]
        drop = _drops_to_nobody()
        return [self.tool, *_bwrap_args(space, env, drop, self.limits.tmp_size),
                *self.limits.prlimit(processes=drop), *(_setpriv(space.uid) if drop else []), *cmd]


def _setpriv(uid: int) -> list[str]:
    """Become the unprivileged user ``uid`` with no capabilities (run inside the sandbox, as root)."""
    tool = shutil.which("setpriv")
    if tool is None:
        raise RuntimeError("setpriv: grading as root needs util-linux's setpriv to drop to an unprivileged "
                           "user in the sandbox, and it is not installed")
    return [tool, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--"]


def _bwrap_args(space: Workspace, env: dict[str, str], drop: bool = False, tmp_size: int = 256 * 2**20) -> list[str]:
    """bubblewrap's options. ``drop``: the grader is root, so the sandbox gets no user namespace
    (whose uid would map to root outside and read root's files) and the kernel becomes
    a user of its own that owns nothing (:func:`_setpriv`); otherwise the kernel keeps the grader's own user."""
    users = (["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"] if drop
             else ["--unshare-all", "--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY), "--cap-drop", "ALL"])
    args = [*users, "--die-with-parent", "--new-session", "--proc", "/proc", "--dev", "/dev",
            "--perms", "1777", "--size", str(tmp_size), "--tmpfs", "/tmp",
            "--perms", "1777", "--size", str(tmp_size), "--tmpfs", "/dev/shm",
            "--unsetenv", "JPY_PARENT_PID"]  # the grader's pid means nothing in the sandbox's pid namespace
    readonly = [d for d in _SYSTEM_DIRS if os.path.exists(d)]
    readonly += [sys.base_prefix, sys.prefix, str(Path(stn_course.__file__).resolve().parent)]
    data = env.get("STN_COURSE_DATA")
    if data and os.path.isdir(data):
        readonly.append(str(Path(data).resolve()))
    mounts = [*readonly, str(space.work)]
    for parent in dict.fromkeys(a for m in mounts for a in reversed(Path(m).parents) if str(a) not in ("/", "/tmp")):
        args += ["--perms", "0755", "--dir", str(parent)]  # traversable by the sandbox's user (/root is 0700)
    for path in dict.fromkeys(readonly):
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        else:
            args += ["--ro-bind", path, path]
    for path in (space.work, space.kernel, space.home):
        args += ["--bind", str(path), str(path)]
    args += ["--ro-bind", str(space.inbox), str(space.inbox), "--chdir", str(space.work)]
    return args


@functools.lru_cache(maxsize=None)
def find_sandbox(limits: Limits = Limits()) -> Sandbox:
    """The sandbox this machine offers: bubblewrap when it is installed and works, else none."""
    tool = shutil.which("bwrap")
    if tool is None:
        return Sandbox(None, reason="bubblewrap is not installed: apt-get install bubblewrap", limits=limits)
    space = Workspace.create()
    try:
        drop = _drops_to_nobody()
        probe = subprocess.run([tool, *_bwrap_args(space, {}, drop), *(_setpriv(space.uid) if drop else []),
                                sys.executable, "-c", "print('ok')"],
                               capture_output=True, text=True, timeout=60)
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as err:
        return Sandbox(None, reason=f"bubblewrap does not start here: {err}", limits=limits)
    finally:
        space.remove()
    if probe.returncode != 0 or probe.stdout.strip() != "ok":
        why = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        return Sandbox(None, reason=f"bubblewrap does not work here: {why}", limits=limits)
    version = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout.split()[-1:]
    return Sandbox(tool, version=version[0] if version else "?", limits=limits)
