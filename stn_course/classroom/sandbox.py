"""Where a submission runs: a throwaway folder, inside a bubblewrap sandbox when the machine has one.

Inside the sandbox (Debian's ``bubblewrap``), a learner's kernel sees the system, Python and
the course package read-only, MNIST (``STN_COURSE_DATA``) read-only, an empty ``/tmp`` and its
own folder; nothing else of the machine: not the instructor's chapters or reference solutions,
not the other submissions, not the grades. It has no network, no capabilities, its own process
tree (killed with it), and limits on memory, file size and open files (``prlimit``). Without
bubblewrap the kernel still runs in a throwaway folder under the same limits, but it can read
and write whatever the grader can: :attr:`Sandbox.description` says so, and the grades say it.
"""

from __future__ import annotations

import functools
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


@dataclass(frozen=True)
class Limits:
    """Resource limits of one submission's kernel (bytes; ``None``: no limit)."""

    memory: int | None = 6 * 2**30      # address space of the kernel's processes
    file_size: int | None = 64 * 2**20  # largest file the learner's code may write
    open_files: int = 256

    def prlimit(self) -> list[str]:
        """The ``prlimit`` command prefix that applies these limits (empty without prlimit)."""
        tool = shutil.which("prlimit")
        if tool is None:
            return []
        args = [tool, f"--nofile={self.open_files}", "--core=0"]
        if self.memory:
            args.append(f"--as={self.memory}")
        if self.file_size:
            args.append(f"--fsize={self.file_size}")
        return [*args, "--"]


@dataclass
class Workspace:
    """One submission's throwaway folders: ``work`` (its working folder, writable), ``inbox``
    (files from the grader, read-only inside the sandbox) and ``kernel`` (connection file and
    sockets). Removed with :meth:`remove`."""

    root: Path

    @classmethod
    def create(cls, parent: str | os.PathLike | None = None) -> Workspace:
        root = Path(tempfile.mkdtemp(prefix="stn-grade-", dir=parent))
        for sub in ("work", "inbox", "kernel", "home"):
            (root / sub).mkdir()
        return cls(root)

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
        limited = [*self.limits.prlimit(), *cmd]
        if not self.isolated:
            return limited
        return [self.tool, *_bwrap_args(space, env), *limited]


def _bwrap_args(space: Workspace, env: dict[str, str]) -> list[str]:
    args = ["--unshare-all", "--unshare-user", "--uid", "65534", "--gid", "65534", "--cap-drop", "ALL",
            "--die-with-parent", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp",
            "--unsetenv", "JPY_PARENT_PID"]  # the grader's pid means nothing in the sandbox's pid namespace
    readonly = [d for d in _SYSTEM_DIRS if os.path.exists(d)]
    readonly += [sys.base_prefix, sys.prefix, str(Path(stn_course.__file__).resolve().parent)]
    data = env.get("STN_COURSE_DATA")
    if data and os.path.isdir(data):
        readonly.append(str(Path(data).resolve()))
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
        probe = subprocess.run([tool, *_bwrap_args(space, {}), sys.executable, "-c", "print('ok')"],
                               capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        return Sandbox(None, reason=f"bubblewrap does not start here: {err}", limits=limits)
    finally:
        space.remove()
    if probe.returncode != 0 or probe.stdout.strip() != "ok":
        why = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        return Sandbox(None, reason=f"bubblewrap does not work here: {why}", limits=limits)
    version = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout.split()[-1:]
    return Sandbox(tool, version=version[0] if version else "?", limits=limits)
