"""A watchdog outside the kernel: one submission's wall clock, memory and disk, summed over its whole process tree.

Limits set inside the kernel (``prlimit``) hold per process, and a kernel that floods its
output channel or dies and is replayed can stretch any clock the grader keeps between cells.
The :class:`Supervisor` is a thread of the grader's own process: every ``interval`` seconds
it sums the resident memory of every process the sandbox started (``psutil``) and the bytes
in the submission's writable folders, and at the first limit passed, or at the submission's
deadline, it kills the whole tree and says why (:attr:`Supervisor.reason`). Nothing the
learner's code does inside the sandbox reaches it. (A cgroup would count the same in the
kernel; this machine, like many containers, offers none a grader can use.)
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import psutil

__all__ = ["Supervisor", "tree_memory", "folder_bytes"]


def tree_memory(root: psutil.Process) -> tuple[int, list[psutil.Process]]:
    """Resident bytes of ``root`` and all its descendants, and those processes."""
    try:
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0, []
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total, procs


def folder_bytes(folders: Iterable[Path], budget: int = 200_000) -> int:
    """Bytes of the files under ``folders`` (links not followed; at most ``budget`` entries walked)."""
    total, stack = 0, [str(f) for f in folders]
    while stack and budget > 0:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            budget -= 1
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                pass
    return total


class Supervisor:
    """Kills a submission's processes past its ``deadline`` (monotonic seconds), ``memory`` or ``disk`` bytes.

    Args:
        deadline: ``time.monotonic()`` value at which the submission's time is up (None: no clock).
        memory: most resident bytes of the whole process tree (None: no limit).
        disk: most bytes in ``folders`` (None: no limit).
        folders: the submission's writable folders on the host's disk.
    """

    def __init__(self, deadline: float | None, memory: int | None, disk: int | None,
                 folders: Iterable[Path] = (), interval: float = 0.25):
        self.deadline, self.memory, self.disk = deadline, memory, disk
        self.folders, self.interval = list(folders), interval
        self.reason = ""
        self._roots: list[psutil.Process] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="stn-supervisor", daemon=True)
        self._thread.start()

    @property
    def tripped(self) -> bool:
        return bool(self.reason)

    def watch(self, pid: int) -> None:
        """Watch the process ``pid`` (a kernel's sandbox) and everything it starts."""
        try:
            process = psutil.Process(pid)
        except psutil.Error:
            return
        with self._lock:
            self._roots.append(process)
        if self.tripped:
            self.kill()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def kill(self) -> None:
        """Kill every watched process and all their descendants (SIGKILL, children first)."""
        with self._lock:
            roots = list(self._roots)
        for root in roots:
            _, procs = tree_memory(root)
            for p in reversed(procs):
                try:
                    p.kill()
                except psutil.Error:
                    pass

    def _check(self) -> str:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return "wall clock"
        if self.memory is not None:
            with self._lock:
                roots = list(self._roots)
            used = sum(tree_memory(r)[0] for r in roots)
            if used > self.memory:
                return f"memory ({used / 2**30:.1f} GiB in its processes together)"
        if self.disk is not None and self.folders and folder_bytes(self.folders) > self.disk:
            return "disk"
        return ""

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            reason = self._check()
            if reason:
                self.reason = reason
                self.kill()
                return
