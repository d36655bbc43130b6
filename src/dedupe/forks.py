"""Work done in forked copies of this process: text output formatted one share each and joined
in order (:class:`ForkedShares`), one whole job run beside the parent (:class:`ForkedCall`), or
one forked early and told later what to do (:class:`ParkedCall`).

Formatting clusters.jsonl is pure Python (x10: 170 MB in 1.7 s) and holds the interpreter lock,
so threads cannot share it. A forked child sees the parent's memory as it was at the fork (copy
on write): it needs nothing sent, formats its share into an unlinked temporary file and exits.
The parent formats the first share meanwhile, then appends the children's files after its own,
in share order, so the output is the same as writing every share in turn. Where every share is
forked (the parent busy elsewhere), the first child writes into the output file itself, and the
others' files are appended by the kernel (``copy_file_range``), not read and written here.

Fork is used only where it is safe: on Linux (macOS's system libraries are not fork-safe), in a
process running no other thread (a fork copies the locks other threads hold, held). A child that
fails leaves its share to the parent, which formats it again in-process: its error (disk full,
say) is then raised here with its own message.
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Generic, TypeVar

__all__ = ["ForkedCall", "ForkedShares", "ParkedCall", "can_fork"]

Share = TypeVar("Share")


def can_fork() -> bool:
    """Whether this process may fork children to run Python code: Linux, no other thread."""
    return (
        hasattr(os, "fork") and sys.platform.startswith("linux") and threading.active_count() == 1
    )


#: Forked children not reaped yet. While any runs, the objects there were at its fork are kept
#: out of the cycle collector's passes (``gc.freeze``): a pass writes into each object it
#: visits, and every page written is then copied, the child's and this process's apart (x10:
#: the preview child's anonymous memory 68 -> 52 MB).
_unreaped: set[int] = set()


def _fork(job: Callable[[], None]) -> int:
    """Fork a child that runs ``job`` and exits (0 if it returned, 1 if it raised), never
    returning into the caller's code; the child's pid here."""
    gc.freeze()
    try:
        pid = os.fork()
    except OSError:
        _thaw()
        raise
    if pid == 0:
        code = 1
        try:
            # No collection in the child: a collected object's finaliser could flush a file
            # buffer the parent still holds into the parent's file.
            gc.disable()
            job()
            code = 0
        except BaseException:  # the parent does the work again and raises its error
            pass
        finally:
            os._exit(code)  # no atexit handlers, no flushing of inherited buffers
    _unreaped.add(pid)
    return pid


def _thaw() -> None:
    """Hand the frozen objects back to the cycle collector once no child shares them."""
    if not _unreaped:
        gc.unfreeze()


def _reap(pid: int) -> bool:
    """Wait for child ``pid``; whether it exited with 0 (False where it was reaped elsewhere:
    its exit status is unknown)."""
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return False
    finally:
        _unreaped.discard(pid)
        _thaw()
    return os.waitstatus_to_exitcode(status) == 0


def _kill(pid: int) -> None:
    """Kill child ``pid`` if it still runs, and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, 9)
    _reap(pid)


def _copy_file(part: IO[bytes], stream: IO[str]) -> None:
    """Append the whole of file ``part`` to ``stream``: in the kernel where it can
    (``copy_file_range``), else through this process."""
    stream.flush()
    size = os.fstat(part.fileno()).st_size
    copied = 0
    copy_range = getattr(os, "copy_file_range", None)
    if copy_range is not None:
        with contextlib.suppress(OSError):  # not for these files: copied below
            while copied < size:
                sent = copy_range(part.fileno(), stream.fileno(), size - copied, copied)
                if sent == 0:
                    break
                copied += sent
    if copied < size:
        part.seek(copied)
        shutil.copyfileobj(part, stream.buffer)  # type: ignore[attr-defined]


class ForkedShares(Generic[Share]):
    """``write(share, stream)`` for every share, the first in this process and each other in a
    forked child, all landing in one text ``stream`` in share order (:meth:`write_into`).

    Use it as a context manager: leaving it stops and reaps any child still running and drops
    the temporary files, whatever happened. The caller decides whether forking is safe
    (:func:`can_fork`); ``directory`` holds the temporary files (the output's own, so a large
    output does not fill a small /tmp).
    """

    def __init__(
        self,
        shares: Sequence[Share],
        write: Callable[[Share, IO[str]], None],
        directory: Path | str | None = None,
        encoding: str = "utf-8",
    ) -> None:
        self._shares = list(shares)
        self._write = write
        self._directory = None if directory is None else str(directory)
        self._encoding = encoding
        # Each child's pid (0 once reaped) and the file it writes, None for a child that
        # writes into the output itself (:meth:`start` with a stream).
        self._children: list[tuple[int, IO[bytes] | None]] = []
        self._direct_from = 0  # where the output stood when such a child started

    def write_into(self, stream: IO[str]) -> None:
        """Fork a child for every share but the first, write the first to ``stream`` here,
        then append the children's output in order (redoing here any share whose child
        failed)."""
        for share in self._shares[1:]:
            self._children.append(self._fork(share))
        if self._shares:
            self._write(self._shares[0], stream)
        self._append(stream, self._shares[1:])

    def start(self, stream: IO[str] | None = None) -> None:
        """Fork a child for every share, the first too: this process is free meanwhile. Then
        :meth:`append_into` the output.

        With ``stream`` (a file's), the first child writes its share straight into it where it
        stands, through the file descriptor it inherits, instead of into a file this process
        copies afterwards (x100: 0.8 of clusters.jsonl's 1.7 GB not copied). This process must
        then leave ``stream`` alone until :meth:`append_into` it."""
        if stream is None or not self._shares:
            self._children = [self._fork(share) for share in self._shares]
            return
        stream.flush()
        self._direct_from = os.lseek(stream.fileno(), 0, os.SEEK_CUR)
        first = self._fork_into(self._shares[0], stream.fileno())
        self._children = [first, *(self._fork(share) for share in self._shares[1:])]

    def append_into(self, stream: IO[str]) -> None:
        """After :meth:`start`: every share's output to ``stream`` (the one given to it, if
        any), in order (redoing here any share whose child failed)."""
        self._append(stream, self._shares)

    def _append(self, stream: IO[str], shares: Sequence[Share]) -> None:
        for number, share in enumerate(shares):
            pid, part = self._children[number]
            succeeded = _reap(pid)
            self._children[number] = (0, part)
            if part is None:  # the child wrote into the stream, through the shared offset
                if not succeeded:  # cut what it wrote and write the share here
                    os.ftruncate(stream.fileno(), self._direct_from)
                    stream.seek(self._direct_from)
                    self._write(share, stream)
                continue
            if not succeeded:
                self._write(share, stream)
                continue
            _copy_file(part, stream)
            part.close()

    def _fork_into(self, share: Share, fd: int) -> tuple[int, None]:
        def write_here() -> None:
            with open(fd, "w", encoding=self._encoding, newline="", closefd=False) as out:
                self._write(share, out)

        return _fork(write_here), None

    def _fork(self, share: Share) -> tuple[int, IO[bytes]]:
        # Anonymous (never linked into a folder): nothing is left behind if anything dies.
        part = tempfile.TemporaryFile(prefix=".dedupe-part-", dir=self._directory)  # noqa: SIM115

        def write_part() -> None:
            with open(
                part.fileno(), "w", encoding=self._encoding, newline="", closefd=False
            ) as out:
                self._write(share, out)

        try:
            pid = _fork(write_part)
        except BaseException:
            part.close()
            raise
        return pid, part

    def __enter__(self) -> ForkedShares[Share]:
        return self

    def __exit__(self, *exc: object) -> None:
        for pid, part in self._children:
            if pid:
                _kill(pid)
            if part is not None:
                part.close()
        self._children = []


class ForkedCall:
    """``job()`` run in a forked child while this process goes on, or here.

    ``start(fork)`` forks the child and says whether it did (with ``fork`` False it does
    nothing: the caller does the job its own way, or :meth:`join` runs it here); :meth:`join`
    waits for the child and, if it failed, runs the job again here, so that its error is
    raised in this process with its own message. The job must leave nothing
    half done when it fails (write its files atomically). Leaving the context waits for a child
    still running: its output is whole or absent, never cut by this process's own failure; an
    interrupt from the terminal reaches the child too.

    >>> import tempfile
    >>> marker = Path(tempfile.mkdtemp()) / "done"
    >>> with ForkedCall(marker.touch) as call:
    ...     forked = call.start(fork=can_fork())
    ...     call.join()
    >>> marker.exists()
    True
    """

    def __init__(self, job: Callable[[], None]) -> None:
        self._job = job
        self._pid = 0
        self._done = False

    def start(self, fork: bool) -> bool:
        if not fork:
            return False
        self._pid = _fork(self._job)
        return True

    def join(self) -> None:
        """Wait for the child; run the job here where it failed or was never forked."""
        if self._done:
            return
        succeeded = self.wait()
        self._done = True
        if not succeeded:
            self._job()

    def wait(self) -> bool:
        """Wait for the child; whether it was forked and did the job (nothing is redone)."""
        return bool(self._pid) and self._wait()

    def _wait(self) -> bool:
        pid, self._pid = self._pid, 0
        return _reap(pid)

    def stop(self) -> None:
        """Kill the child if it is still running, and reap it (for a job whose output is
        thrown away)."""
        pid, self._pid = self._pid, 0
        if pid:
            _kill(pid)

    def __enter__(self) -> ForkedCall:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pid:
            self._wait()


class ParkedCall:
    """``job(message)`` run in a child forked now, while this process is small, and told what to
    do later (:meth:`go`).

    A child forked when its work is known shares every page this process holds at that moment,
    and each page this process frees or rewrites afterwards stays alive in the child until it
    exits: forked as the x100 scan's linking began, the child that cuts paragraph previews kept
    ~150 MB of arrays the scan had freed (its proportional anonymous memory 175 MB while it ran,
    for ~45 MB of its own). Parked at the start, it holds a copy of little. It waits on a pipe,
    and leaves without doing anything if the parent goes away first or :meth:`stop` kills it.
    Whatever the job needs beyond ``message`` must exist before :meth:`park` (an open file,
    say) or be found through it. Use it as a context manager: leaving it waits for a child told
    to go (its output is whole or absent) and kills one still parked.

    >>> import tempfile
    >>> marker = Path(tempfile.mkdtemp()) / "done"
    >>> with ParkedCall(lambda message: marker.write_bytes(message)) as call:
    ...     parked = call.park() if can_fork() else False
    ...     told = call.go(b"cut") and call.wait()
    >>> marker.exists() == told == parked
    True
    """

    #: How often (seconds) a parked child checks that its parent is still there.
    POLL_S = 1.0

    def __init__(self, job: Callable[[bytes], None]) -> None:
        self._job = job
        self._pid = 0
        self._pipe = -1  # the write end, here
        self._told = False

    def park(self) -> bool:
        """Fork the child, which waits for :meth:`go` (the caller checks :func:`can_fork`).
        Whether it was forked."""
        read, write = os.pipe()
        parent = os.getpid()
        try:
            self._pid = _fork(lambda: self._wait_and_run(read, write, parent))
        except BaseException:
            os.close(write)
            raise
        finally:
            os.close(read)
        self._pipe = write
        return True

    def _wait_and_run(self, read: int, write: int, parent: int) -> None:
        """The child: read the message (its length, 8 bytes, then itself) and run the job."""
        os.close(write)
        received = bytearray()
        needed = 8
        while len(received) < needed:
            ready, _, _ = select.select([read], [], [], self.POLL_S)
            if not ready:
                if os.getppid() != parent:
                    raise ChildProcessError("the parent is gone")
                continue
            chunk = os.read(read, needed - len(received))
            if not chunk:
                raise EOFError("the parent closed the pipe without a message")
            received += chunk
            if needed == 8 and len(received) == 8:
                needed += int.from_bytes(received, "little")
        os.close(read)
        self._job(bytes(received[8:]))

    def go(self, message: bytes) -> bool:
        """Tell the parked child to run ``job(message)``; whether it was parked and told (False
        where it is gone already)."""
        if not self._pid or self._told:
            return False
        pipe, self._pipe = self._pipe, -1
        data = memoryview(len(message).to_bytes(8, "little") + message)
        try:
            while data:
                data = data[os.write(pipe, data) :]
        except OSError:  # it died: nobody reads the pipe
            return False
        finally:
            os.close(pipe)
        self._told = True
        return True

    def wait(self) -> bool:
        """Wait for the child told to go; whether it did the job (False where it was never
        told: it is left parked)."""
        if not self._pid or not self._told:
            return False
        pid, self._pid = self._pid, 0
        return _reap(pid)

    def stop(self) -> None:
        """Kill the child, parked or running, and reap it (for output that is not needed)."""
        pid, self._pid = self._pid, 0
        if self._pipe >= 0:
            os.close(self._pipe)
            self._pipe = -1
        if pid:
            _kill(pid)

    def __enter__(self) -> ParkedCall:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._told:
            self.wait()
        self.stop()
