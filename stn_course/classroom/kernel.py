"""A Python kernel that runs code cell by cell under limits of time and output (for grading and verifying).

A cell that runs past its limit is interrupted; one that ignores the interrupt for ``grace``
seconds has its kernel killed (``stuck``), so it costs only its own time: the caller may
:meth:`Kernel.restart` and go on. A kernel that dies is reported as ``dead`` with its exit
status. Output beyond ``output_limit`` bytes per cell is dropped and the cell interrupted.
Inside a :class:`~stn_course.classroom.sandbox.Sandbox` the kernel talks to us through Unix
sockets in its workspace (it has no network).
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from queue import Empty

import zmq
import zmq.asyncio
from jupyter_client.manager import AsyncKernelManager

from .sandbox import Sandbox, Workspace, _drops_to_nobody
from .supervisor import Supervisor

__all__ = ["CellResult", "Kernel", "kernel_env", "sandbox_env"]

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_POLL = 0.2
_MAX_MESSAGE = 64 * 2**20


@dataclass
class CellResult:
    """What executing one cell gave: status is ok, error, timeout, stuck, dead, output or not-run."""

    status: str = "not-run"
    ename: str = ""
    evalue: str = ""
    stdout: str = ""
    seconds: float = 0.0
    limit: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def kernel_env(quick: bool = True) -> dict[str, str]:
    """Environment for verification kernels (the instructor's own code): quick mode, no GUI backend."""
    env = dict(os.environ)
    if quick:
        env["STN_COURSE_QUICK"] = "1"
    env.setdefault("MPLBACKEND", "Agg")
    return env


def sandbox_env(space: Workspace, quick: bool = True) -> dict[str, str]:
    """A learner kernel's environment: only what the course needs, none of the grader's variables."""
    home = str(space.home)
    env = {"PATH": os.pathsep.join([os.path.dirname(os.path.abspath(sys.executable)), "/usr/bin", "/bin"]),
           "HOME": home, "TMPDIR": "/tmp", "MPLBACKEND": "Agg", "MPLCONFIGDIR": f"{home}/matplotlib",
           "IPYTHONDIR": f"{home}/ipython", "XDG_CACHE_HOME": f"{home}/cache", "PYTHONDONTWRITEBYTECODE": "1",
           "LANG": "C.UTF-8"}
    for name in ("STN_COURSE_DATA", "OMP_NUM_THREADS"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    if quick:
        env["STN_COURSE_QUICK"] = "1"
    env["PYTHONPATH"] = _package_root()  # the kernel imports the course package the grader imported (and bound)
    return env


def _package_root() -> str:
    """The folder holding the ``stn_course`` this grader runs (an editable install may point elsewhere)."""
    import stn_course

    return os.path.dirname(os.path.dirname(os.path.abspath(stn_course.__file__)))


class _Manager(AsyncKernelManager):
    """A kernel manager whose kernel command runs inside a sandbox."""

    def wrap_in(self, sandbox: Sandbox, space: Workspace, env: dict[str, str]) -> None:
        self._sandbox, self._space, self._sandbox_env = sandbox, space, env

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        sandbox = getattr(self, "_sandbox", None)
        if sandbox and sandbox.isolated and _drops_to_nobody():  # the kernel, as the sandbox's user, reads it
            os.chown(self.connection_file, self._space.uid, self._space.uid)
        return sandbox.wrap(cmd, self._space, self._sandbox_env) if sandbox else cmd


class Kernel:
    """A Python kernel: ``async with Kernel(cwd) as k: result = await k.run(source, limit)``.

    With ``sandbox`` and ``space`` the kernel runs in ``space.work`` inside the sandbox (with
    :func:`sandbox_env` unless ``env`` is given); leaving the block kills it whatever its state.
    """

    def __init__(self, cwd: str | os.PathLike, env: dict[str, str] | None = None, *,
                 sandbox: Sandbox | None = None, space: Workspace | None = None,
                 output_limit: int = 1_000_000, grace: float = 5.0, supervisor: Supervisor | None = None):
        if sandbox is not None and space is None:
            raise ValueError("space: a sandboxed kernel needs a Workspace, got None")
        self.cwd, self.sandbox, self.space = str(cwd), sandbox, space
        self.env = env if env is not None else (sandbox_env(space) if sandbox else kernel_env())
        self.output_limit, self.grace, self.supervisor = output_limit, grace, supervisor
        self.km: _Manager | None = None
        self.kc = None

    async def __aenter__(self) -> Kernel:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def start(self) -> None:
        """Start a fresh kernel and wait until it answers."""
        km = _Manager(kernel_name="python3")
        if self.space is not None:
            km.transport, km.ip = "ipc", str(self.space.kernel / "ipc")
            km.connection_file = str(self.space.kernel / f"kernel-{time.monotonic_ns()}.json")
        if self.sandbox is not None:
            km.wrap_in(self.sandbox, self.space, self.env)
        km.kernel_spec.interrupt_mode = "message"  # a signal to the sandbox's process group would end it
        self.km = km
        await km.start_kernel(env=self.env, cwd=self.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        process = getattr(km.provisioner, "process", None)
        if self.supervisor is not None and process is not None:
            self.supervisor.watch(process.pid)  # from here on its whole tree counts against the limits
        context = zmq.asyncio.Context()
        context.setsockopt(zmq.MAXMSGSIZE, _MAX_MESSAGE)  # a giant message is dropped, not taken into memory
        self.kc = km.client(context=context)
        self.kc.start_channels()
        try:
            await self.kc.wait_for_ready(timeout=120)
        except RuntimeError as err:
            await self.stop()
            raise RuntimeError(f"the kernel did not start: {err}") from None

    async def stop(self) -> None:
        """Kill the kernel (and, in a sandbox, every process it started)."""
        if self.kc is not None:
            self.kc.stop_channels()
            self.kc = None
        if self.km is not None:
            try:
                await self.km.shutdown_kernel(now=True)
            except Exception:  # already gone
                pass
            self.km = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def alive(self) -> bool:
        return self.km is not None and await self.km.is_alive()

    def _exit_status(self) -> str:
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        code = process.poll() if process is not None else None
        return "it stopped" if code is None else f"exit status {code}"

    async def run(self, source: str, limit: float) -> CellResult:
        """Execute ``source`` with ``limit`` seconds at most; never raises for the code's sake."""
        if not await self.alive():
            return CellResult("dead", "DeadKernel", "the kernel is not running", limit=limit)
        t0 = time.monotonic()
        msg_id = self.kc.execute(source, store_history=True, allow_stdin=False, stop_on_error=False)
        result = CellResult("ok", limit=limit)
        out = _Output(self.output_limit)
        reply = await self._wait(msg_id, t0 + limit, out)
        if reply is None and await self.alive() and not out.over:
            await self.km.interrupt_kernel()  # past its time: interrupt, then wait a little
            reply = await self._wait(msg_id, time.monotonic() + self.grace, out)
            result.status = "timeout"
        elif out.over:
            reply = reply or await self._wait(msg_id, time.monotonic() + self.grace, out)
            result.status = "output"
        if reply is None:
            if await self.alive():  # it ignored the interrupt: only killing it stops it
                await self.stop()
                result.status = "stuck"
            else:
                result.status, result.ename = "dead", "DeadKernel"
                result.evalue = self._exit_status()
        elif result.status == "ok" and reply["content"].get("status") != "ok":
            result.status = "error"
        if result.status in ("error", "timeout", "output") and reply is not None:
            content = reply["content"]
            result.ename = content.get("ename", "Error")
            result.evalue = _ANSI.sub("", str(content.get("evalue", "")))
        result.stdout, result.seconds = out.text(), time.monotonic() - t0
        return result

    async def _wait(self, msg_id: str, deadline: float, out: _Output) -> dict | None:
        """The execute reply to ``msg_id`` before ``deadline`` (None if none came), collecting output."""
        reply = None
        while time.monotonic() < deadline:
            await self._drain_iopub(msg_id, out)
            if out.over and not out.interrupted:
                out.interrupted = True
                await self.km.interrupt_kernel()
            try:
                msg = await self.kc.get_shell_msg(timeout=_POLL)
            except Empty:
                if not await self.alive():
                    return None
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                reply = msg
                break
        if reply is not None:  # the rest of its output (the kernel is idle once it replied)
            await asyncio.sleep(0)
            await self._drain_iopub(msg_id, out, until_idle=True)
        return reply

    async def _drain_iopub(self, msg_id: str, out: _Output, until_idle: bool = False) -> None:
        """Collect the cell's output for a short while (a flood of messages cannot hold us here)."""
        end = time.monotonic() + (2.0 if until_idle else _POLL)
        while time.monotonic() < end:
            try:
                msg = await self.kc.get_iopub_msg(timeout=0.05 if until_idle else 0.001)
            except Empty:
                if not until_idle or time.monotonic() > end:
                    return
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and content.get("name") == "stdout":
                out.add(content.get("text", ""), stdout=True)
            elif kind in ("stream", "display_data", "execute_result", "error"):
                out.add(str(content.get("text") or content.get("data") or content.get("evalue") or ""))
            elif kind == "status" and content.get("execution_state") == "idle" and until_idle:
                return


class _Output:
    """A cell's output, counted against a byte limit; only stdout is kept (for feedback)."""

    def __init__(self, limit: int):
        self.limit, self.size, self.over, self.interrupted = limit, 0, False, False
        self._stdout: list[str] = []

    def add(self, text: str, stdout: bool = False) -> None:
        self.size += len(text.encode("utf-8", "replace"))
        if self.size > self.limit:
            self.over = True
        elif stdout:
            self._stdout.append(text)

    def text(self) -> str:
        return "".join(self._stdout)
