"""A Python kernel that executes code cell by cell with a time limit per cell (for grading and verifying)."""

from __future__ import annotations

import asyncio
import math
import os
import re
import time
from dataclasses import dataclass

import nbformat

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass
class CellResult:
    """What executing one cell gave: status is ok, error, timeout, dead or not-run."""

    status: str = "not-run"
    ename: str = ""
    evalue: str = ""
    stdout: str = ""
    seconds: float = 0.0
    limit: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


_TIMEOUT_ENAME = "CellTimeLimit"


def kernel_env(quick: bool = True) -> dict[str, str]:
    """Environment for grading/verification kernels: quick mode, no GUI backend."""
    env = dict(os.environ)
    if quick:
        env["STN_COURSE_QUICK"] = "1"
    env.setdefault("MPLBACKEND", "Agg")
    return env


class Kernel:
    """A Python kernel that runs code cell by cell with a time limit per cell.

    Use as ``async with Kernel(cwd) as k: result = await k.run(source, limit)``. A cell that
    runs past its limit is interrupted (and reported as ``timeout``); leaving the block
    kills the kernel process whatever state it is in.
    """

    def __init__(self, cwd: str | os.PathLike, env: dict[str, str] | None = None):
        from nbclient import NotebookClient

        self._replies: dict[int, dict] = {}
        self.client = NotebookClient(
            nbformat.v4.new_notebook(), kernel_name="python3", allow_errors=True,
            interrupt_on_timeout=True, shutdown_kernel="immediate", iopub_timeout=5,
            error_on_timeout={"ename": _TIMEOUT_ENAME, "evalue": "time limit reached", "traceback": []},
            resources={"metadata": {"path": str(cwd)}}, record_timing=False,
            on_cell_executed=self._on_executed,
        )
        self.env = env if env is not None else kernel_env()
        self._cm = None

    def _on_executed(self, cell, cell_index, execute_reply):
        self._replies[cell_index] = execute_reply

    async def __aenter__(self) -> Kernel:
        self._cm = self.client.async_setup_kernel(env=self.env)
        await self._cm.__aenter__()
        return self

    async def __aexit__(self, *exc) -> None:
        km = self.client.km
        try:
            await self._cm.__aexit__(*exc)
        finally:  # whatever happened above, no kernel process outlives the block
            try:
                if km is not None and await _maybe_await(km.is_alive()):
                    await _maybe_await(km.shutdown_kernel(now=True))
            except Exception:  # already gone
                pass

    async def run(self, source: str, limit: float) -> CellResult:
        """Execute ``source``; ``limit`` seconds at most (then the kernel is interrupted)."""
        from nbclient.exceptions import DeadKernelError

        cell = nbformat.v4.new_code_cell(source)
        self.client.nb.cells.append(cell)  # nbclient stores the executed cell at its index
        index = len(self.client.nb.cells) - 1
        self.client.timeout = max(1, math.ceil(limit))
        t0 = time.monotonic()
        try:
            await self.client.async_execute_cell(cell, index)
        except DeadKernelError as err:
            return CellResult("dead", "DeadKernelError", str(err), seconds=time.monotonic() - t0, limit=limit)
        reply = self._replies.pop(index, None) or {"content": {"status": "ok"}}
        content = reply.get("content", {})
        stdout = "".join(o.get("text", "") for o in cell.outputs
                         if o.get("output_type") == "stream" and o.get("name") == "stdout")
        result = CellResult("ok", stdout=stdout, seconds=time.monotonic() - t0, limit=limit)
        if content.get("status") != "ok":
            ename = content.get("ename", "Error")
            result.status = "timeout" if ename == _TIMEOUT_ENAME else "error"
            result.ename, result.evalue = ename, _ANSI.sub("", str(content.get("evalue", "")))
        return result


async def _maybe_await(value):
    if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
        return await value
    return value
