"""The ledger's spool: every generation row is copied to a local file before its response completes,
so a row survives the process (SIGKILL, the OOM killer) even while it waits in memory for its batch.

One writer process owns its files (segments named `ledger-<pid>-<ms>-<n>.jsonl`, one JSON row a line,
zeros after the last) and holds an exclusive `flock` on each for as long as it lives; the kernel drops
the lock when the process dies, however it dies, so whoever can lock a segment knows its owner is gone
and adopts it: its rows are written to the database again, skipping the generation ids already stored
(exactly once).

A segment is a 2 MiB file, allocated on disk up front (posix_fallocate: a full disk shows as an error
when a segment is opened, never as a fault while writing) and mapped into memory (a shared file
mapping: the page cache keeps what was copied when the process dies). Appending a row is a memory copy,
no system call and no fsync: a row must outlive the process, not the machine (a power cut can lose the
last seconds). Measured on the 2-core benchmark VM (bench/spool_cost.py): ~1.2 µs a row for the JSON
and the copy; one `write` a row cost ~9 µs, about 6% of a request's CPU at bench load. A segment whose
rows are all in the database is zeroed and used again: touching fresh pages costs a page fault every
four rows (~6 µs a row), reused ones none.

Segments whose rows are all written (or set aside as dead letters) are reused or removed, so the spool
holds about as many rows as the writer's backlog."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import mmap
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger("switchpoint.ledger")

SEGMENT_BYTES = 2 * 1024 * 1024
RESET_AFTER = 256 * 1024  # the open segment, all written, is zeroed once it holds this much
SPARE_SEGMENTS = 2        # written segments kept (zeroed) for reuse
PREFIX = "ledger-"
DEAD_LETTERS = "dead-letter.jsonl"


def spool_directory(database_url: str, configured: str | None) -> Path | None:
    """`ledger.spool_dir` if set, else the default for the database."""
    return Path(configured).expanduser() if configured else default_spool_dir(database_url)


def default_spool_dir(database_url: str) -> Path | None:
    """Beside an SQLite file (`x.db` -> `x.db-spool/`, like its `-wal` file); for PostgreSQL a folder
    per database under `./switchpoint-spool/`; none for an in-memory database (nothing to replay into)."""
    if database_url.startswith("sqlite"):
        path = database_url.split(":///", 1)[-1].split("?", 1)[0]
        if not path or ":memory:" in database_url or "mode=memory" in database_url:
            return None
        return Path(path + "-spool")
    host_db = database_url.split("@", 1)[-1].split("?", 1)[0]  # no user or password in a folder name
    tag = "".join(c if c.isalnum() else "-" for c in host_db).strip("-")[:60]
    return Path("switchpoint-spool") / f"{tag}-{hashlib.sha256(database_url.encode()).hexdigest()[:8]}"


@dataclass(eq=False)
class Segment:
    path: Path
    fd: int
    mm: mmap.mmap | None = None  # None for an adopted segment (only read)
    pos: int = 0                 # bytes of rows written
    outstanding: int = 0         # rows appended (or adopted) and not yet done
    sealed: bool = False         # takes no more appends

    def reset(self) -> None:
        """Zero what was written (every row in it is done) and start over."""
        assert self.mm is not None
        self.mm[: self.pos] = bytes(self.pos)
        self.pos = 0
        self.sealed = False


@dataclass
class Spool:
    """The segments of this process, and the generation ids still outstanding in each."""

    directory: Path
    segments: list[Segment] = field(default_factory=list)  # oldest first; the last may take appends
    spare: list[Segment] = field(default_factory=list)
    where: dict[str, Segment] = field(default_factory=dict)  # generation id -> its segment
    broken: str | None = None  # why the last append failed (rows since are only in memory)
    _serial: int = 0

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)

    @property
    def paths(self) -> list[str]:
        return [str(s.path) for s in self.segments if s.outstanding]

    def append(self, row: dict[str, Any]) -> bool:
        """Copy one row into the spool; False (and `broken` set) if it could not be."""
        data = encode(row) + b"\n"
        segment = self.segments[-1] if self.segments and not self.segments[-1].sealed else None
        assert segment is None or segment.mm is not None
        if segment is None or segment.pos + len(data) > len(segment.mm):  # type: ignore[union-attr]
            if segment is not None:
                segment.sealed = True
            try:
                segment = self._open(len(data))
            except OSError as exc:
                if self.broken is None:
                    log.error("the ledger spool %s cannot be written (%s): refusing new generations until it "
                              "can", self.directory, exc)
                self.broken = f"the ledger spool {self.directory} cannot be written: {exc.strerror or exc}"
                return False
            if self.broken is not None:
                log.warning("the ledger spool %s is writable again", self.directory)
                self.broken = None
        assert segment.mm is not None
        end = segment.pos + len(data)
        segment.mm[segment.pos:end] = data
        segment.pos = end
        segment.outstanding += 1
        self.where[row["id"]] = segment
        return True

    def probe(self) -> None:
        """While broken, try to open a segment again: the folder may be writable by now."""
        if self.broken is None or (self.segments and not self.segments[-1].sealed):
            return
        try:
            self._open(0)
        except OSError as exc:
            self.broken = f"the ledger spool {self.directory} cannot be written: {exc.strerror or exc}"
            return
        log.warning("the ledger spool %s is writable again", self.directory)
        self.broken = None

    def done(self, rows: list[dict[str, Any]]) -> None:
        """These rows are in the database (or set aside): their segments may be reused or go."""
        for row in rows:
            segment = self.where.pop(row["id"], None)
            if segment is not None:
                segment.outstanding -= 1
        for segment in [s for s in self.segments if s.outstanding == 0]:
            if segment.sealed:
                self.segments.remove(segment)
                self._retire(segment)
            elif segment.pos >= RESET_AFTER:
                segment.reset()

    def adopt(self) -> list[dict[str, Any]]:
        """Take over the segments of writers that are gone; their rows, oldest segment first."""
        rows: list[dict[str, Any]] = []
        for path in sorted(self.directory.glob(f"{PREFIX}*.jsonl"), key=_age):
            if any(s.path == path for s in [*self.segments, *self.spare]):
                continue
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:  # another process adopted and finished it meanwhile
                continue
            if not _try_lock(fd):
                os.close(fd)  # its writer is alive (or another process is adopting it)
                continue
            if not path.exists():  # removed by its adopter between our listing and our lock
                os.close(fd)
                continue
            segment = Segment(path, fd, sealed=True)
            for row in read_rows(path):
                if row["id"] not in self.where:
                    self.where[row["id"]] = segment
                    segment.outstanding += 1
                    rows.append(row)
            if segment.outstanding == 0:
                _remove(segment)
                continue
            self.segments.insert(len([s for s in self.segments if s.sealed]), segment)
            log.warning("ledger: %d rows found in %s (left by a process that stopped before writing them); "
                        "writing them now", segment.outstanding, path)
        return rows

    def close(self) -> None:
        """Release the segments; those holding rows not written stay on disk for the next start."""
        for segment in [*self.segments, *self.spare]:
            if segment.outstanding == 0:
                _remove(segment)
            else:
                if segment.mm is not None:
                    segment.mm.close()
                os.close(segment.fd)
        self.segments.clear()
        self.spare.clear()

    def _open(self, size: int) -> Segment:
        if self.spare and size <= SEGMENT_BYTES:
            segment = self.spare.pop()
            self.segments.append(segment)
            return segment
        self._serial += 1
        path = self.directory / f"{PREFIX}{os.getpid()}-{int(time.time() * 1000)}-{self._serial}.jsonl"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            if not _try_lock(fd):  # cannot happen for a new file; never write a file another holds
                raise OSError(errno.EBUSY, f"{path} is locked by another process")
            os.posix_fallocate(fd, 0, max(size, SEGMENT_BYTES))
            mm = mmap.mmap(fd, max(size, SEGMENT_BYTES), flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        except OSError:
            path.unlink(missing_ok=True)
            os.close(fd)
            raise
        segment = Segment(path, fd, mm)
        self.segments.append(segment)
        return segment

    def _retire(self, segment: Segment) -> None:
        """A sealed segment whose rows are all done: kept zeroed for reuse, or removed."""
        if segment.mm is not None and len(segment.mm) == SEGMENT_BYTES and len(self.spare) < SPARE_SEGMENTS:
            segment.reset()
            self.spare.append(segment)
        else:
            _remove(segment)


def _remove(segment: Segment) -> None:
    try:
        segment.path.unlink(missing_ok=True)  # unlink before closing: the lock keeps adopters out
    finally:
        if segment.mm is not None:
            segment.mm.close()
        os.close(segment.fd)


def encode(value: Any) -> bytes:
    """JSON for a row, whatever it holds: a value JSON has no type for is kept as its text."""
    try:
        return orjson.dumps(value, default=str)
    except orjson.JSONEncodeError:  # keys that are not exactly `str` (a subclass, a number)
        return orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS)


def read_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of a spool segment, up to its zeros; a last row cut short by a crash mid-copy is skipped
    (its response had not been sent)."""
    data = path.read_bytes()
    end = data.find(b"\0")
    lines = (data if end < 0 else data[:end]).split(b"\n")
    if lines[-1]:
        log.warning("ledger spool %s: the last row is incomplete (the writer stopped mid-row); skipped", path)
    for number, line in enumerate(lines[:-1], 1):
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            log.error("ledger spool %s: line %d is not JSON; skipped", path, number)
            continue
        if isinstance(row, dict) and isinstance(row.get("id"), str):
            yield row


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _age(path: Path) -> tuple[int, int, int]:
    """Segments sort by the time they were opened (in their name), then serial."""
    parts = path.stem.removeprefix(PREFIX).split("-")
    try:
        return int(parts[1]), int(parts[2]), int(parts[0])
    except (IndexError, ValueError):
        return 0, 0, 0
