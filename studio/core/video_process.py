"""Video encoding in a process of its own, beside the model's render.

A thread beside the render shares the GIL with it: on 2 cores the built-in VAE's 96-frame
export ran 1.18 × its raw forward with the encoder on a thread (the render waited for the
GIL while the encoder converted and muxed), 1.12 × with it in a process. So MP4 and WebM
are encoded by one long-lived child process (never forked: the parent may be the Qt
window, and its torch threads do not survive a fork; see EncoderProcess), started at
the first export and reused by the next, one export at a time.

The child runs the same `AnimationWriter`, unthreaded: it converts, encodes, stages the
sidecar and lands the file, so what lands and when (nothing before `finish`, nothing
after a cancel or failure) is the writer's own behaviour. The parent streams batches
through a pipe; the child reads the next when it has encoded the last (a reader thread
of its own, waking for each message, took a core from the render), so a batch waits in
the pipe meanwhile and the render waits only when the encoder falls a whole pipe behind.

Protocol, one export at a time: ("open", options) ("frames", batch)* then ("finish",
sidecar) or ("abort",). The child answers ("error", kind, text), once, when something
fails (later batches are ignored), ("finished", count, size) to every finish (after its
error, if any) and ("aborted",) to every abort, so each export's answers end with its
own last one; nothing else: an answer per batch cost the render ~0.1 ms each (a
wake-up across cores is dear in a VM), so progress counts the frames handed over.
No torch, no Qt here.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

REPLY_TIMEOUT = 120.0  # seconds to wait for the child at finish or abort (a long flush)


class EncoderGone(OSError):
    """The encoder process died or stopped answering; the export cannot finish."""


def _serve(conn: Any) -> None:
    """The child: one export after another until the parent closes the pipe."""
    from studio.core.video import AnimationWriter, VideoError

    writer: Any = None
    failed = False

    def fail(exc: BaseException) -> None:
        nonlocal failed, writer
        failed = True
        kind = "video" if isinstance(exc, VideoError) else "os" if isinstance(exc, OSError) else "other"
        conn.send(("error", kind, str(exc) or type(exc).__name__))
        if writer is not None:
            writer.abort()
            writer = None

    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            if writer is not None:
                writer.abort()
            return
        kind = message[0]
        if kind == "open":
            writer, failed = None, False
            try:
                writer = AnimationWriter(**message[1], threaded=False)
            except BaseException as exc:
                fail(exc)
        elif kind == "frames":
            if not failed and writer is not None:
                try:
                    writer.add(message[1])
                except BaseException as exc:
                    fail(exc)
        elif kind == "finish":  # always answered with "finished", after any "error"
            done: tuple[int, Any] = (0, None)
            if not failed and writer is not None:
                try:
                    writer.finish(message[1])
                    done = (writer.written, writer.size)
                except BaseException as exc:
                    writer = None  # finish() discarded what it held
                    fail(exc)
            writer = None
            conn.send(("finished", *done))
        elif kind == "abort":
            if writer is not None:
                writer.abort()
            writer = None
            conn.send(("aborted",))


def _child_main(read_fd: int, write_fd: int) -> None:
    """The child's entry point (`python -c`, see EncoderProcess)."""
    _serve(_Duplex(Connection(read_fd, writable=False), Connection(write_fd, readable=False)))


class _Duplex:
    """Two one-way pipes as one connection (send on one, receive on the other)."""

    def __init__(self, incoming: Connection, outgoing: Connection) -> None:
        self.incoming, self.outgoing = incoming, outgoing

    def send(self, message: Any) -> None:
        self.outgoing.send(message)

    def recv(self) -> Any:
        return self.incoming.recv()

    def poll(self, timeout: float = 0.0) -> bool:
        return self.incoming.poll(timeout)


class EncoderProcess:
    """The child and the parent's end of its pipes.

    A fresh interpreter (`python -c`), not multiprocessing's spawn: spawn runs the
    parent's main script again in the child, which a user's own script calling the
    studio without an `if __name__ == "__main__":` guard does not survive. Never a fork:
    the parent may be the Qt window, and its torch threads do not survive one."""

    def __init__(self) -> None:
        if os.name != "posix":
            raise OSError("the encoder process needs POSIX pipes")
        if getattr(sys, "frozen", False):  # a bundle's executable is the app, not Python
            raise OSError("a frozen app has no Python interpreter to start")
        child_reads, parent_writes = os.pipe()
        parent_reads, child_writes = os.pipe()
        package_root = str(Path(__file__).resolve().parents[2])  # where `studio` imports from
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        code = ("import sys; from studio.core.video_process import _child_main; "
                "_child_main(int(sys.argv[1]), int(sys.argv[2]))")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", code, str(child_reads), str(child_writes)],
                pass_fds=(child_reads, child_writes), env=env, stdin=subprocess.DEVNULL)
        finally:
            os.close(child_reads)
            os.close(child_writes)
        self.conn = _Duplex(Connection(parent_reads, writable=False),
                            Connection(parent_writes, readable=False))
        self.busy = threading.Lock()  # held by one export from open to finish or abort

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    @property
    def exitcode(self) -> int | None:
        return self.process.poll()

    def kill(self) -> None:
        if self.alive:
            self.process.kill()
            self.process.wait(5)


_shared: EncoderProcess | None = None
_shared_lock = threading.Lock()


def prestart() -> None:
    """Start the encoder process now (it takes ~0.3 s to import its libraries), so that
    the first export does not wait for it."""
    with _shared_lock:
        try:
            _running()
        except (OSError, RuntimeError, ValueError) as exc:  # the export will say, or use a thread
            log.warning("the video encoder process did not start: %s", exc)


def _running() -> EncoderProcess:
    global _shared
    if _shared is None or not _shared.alive:
        _shared = EncoderProcess()
    return _shared


def acquire() -> EncoderProcess | None:
    """The encoder process, held for one export; None when another export holds it or it
    cannot start (the caller encodes on a thread instead)."""
    with _shared_lock:
        try:
            encoder = _running()
        except (OSError, RuntimeError, ValueError) as exc:
            log.warning("no video encoder process (%s): encoding on a thread", exc)
            return None
        if not encoder.busy.acquire(blocking=False):
            return None
        return encoder


class RemoteVideo:
    """The parent's side of one export in the encoder process: `add` streams a batch,
    `finish` waits for the file to land, `abort` for it to be discarded."""

    def __init__(self, encoder: EncoderProcess, options: dict[str, Any],
                 on_handed: Any = None) -> None:
        """`on_handed(count)`: after each batch, the frames handed to the encoder so far."""
        self._encoder = encoder
        self._on_handed = on_handed
        self.handed = 0
        self.written = 0  # and the frames written, at the finish
        self.size: tuple[int, int] | None = None
        self._error: BaseException | None = None
        self._released = False
        self._send(("open", options))

    def _send(self, message: tuple[Any, ...]) -> None:
        try:
            self._encoder.conn.send(message)
        except (OSError, ValueError) as exc:  # a broken pipe: the child died
            raise self._gone(exc) from None

    def _gone(self, exc: BaseException | None = None) -> EncoderGone:
        code = self._encoder.exitcode
        why = f"exit code {code}" if code is not None else str(exc or "no answer")
        return EncoderGone(f"the video encoder process ended unexpectedly ({why})")

    def _take(self, reply: tuple[Any, ...]) -> str:
        kind = reply[0]
        if kind == "finished":
            self.written, self.size = int(reply[1]), reply[2]
        elif kind == "error" and self._error is None:
            from studio.core.video import VideoError

            text = str(reply[2])
            self._error = OSError(text) if reply[1] == "os" else VideoError(text)
        return str(kind)

    def _next(self, timeout: float) -> tuple[Any, ...] | None:
        """The child's next answer, or None when none came within `timeout` seconds."""
        conn = self._encoder.conn
        try:
            return conn.recv() if conn.poll(timeout) else None
        except (EOFError, OSError) as exc:
            raise self._gone(exc) from None

    def _drain(self) -> None:
        """Take the answers that arrived, without waiting."""
        while (reply := self._next(0.0)) is not None:
            self._take(reply)

    def _wait_for(self, kind: str) -> None:
        while True:
            reply = self._next(REPLY_TIMEOUT)
            if reply is None:
                raise self._gone()
            if self._take(reply) == kind:
                return

    def add(self, frames: Any) -> None:
        self._drain()
        if self._error is not None:
            self.abort()  # the child dropped the export; this frees the process
            raise self._error
        self._send(("frames", frames))
        self.handed += len(frames)
        if self._on_handed is not None:
            self._on_handed(self.handed)

    def finish(self, sidecar: str | None) -> None:
        try:
            self._send(("finish", sidecar))
            self._wait_for("finished")
            if self._error is not None:
                raise self._error
        except EncoderGone:
            self._discard_child()
            raise
        finally:
            self._release()

    def abort(self) -> None:
        if self._released:
            return
        try:
            self._send(("abort",))
            self._wait_for("aborted")
        except EncoderGone:
            self._discard_child()
        finally:
            self._release()

    def _discard_child(self) -> None:
        """A child that died or hung is not reused: the next export starts a new one."""
        global _shared
        with _shared_lock:
            if _shared is self._encoder:
                _shared = None
        self._encoder.kill()

    def _release(self) -> None:
        if not self._released:
            self._released = True
            self._encoder.busy.release()
