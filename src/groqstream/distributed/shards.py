"""A job's shards on disk: the plan (byte ranges of the input), each shard's output files,
checks that a resumed job is the same job, and the final merge.

Layout beside `out.jsonl`::

    out.shards/manifest.json                the plan: input identity, byte ranges
    out.shards/shard-00003.jsonl            shard 3's results (append-only, resumable)
    out.shards/shard-00003.errors.jsonl     shard 3's failures
    out.shards/shard-00003.lock             held (flock) by the process running shard 3
    out.shards/input.jsonl                  a `ray.data.Dataset` input, spooled once
"""

from __future__ import annotations

import fcntl
import hashlib
import heapq
import os
import shutil
import socket
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ..batch import BatchInputError, errors_path_for, validate_input
from ..errors import ConfigError, GroqStreamError

__all__ = [
    "ShardLock",
    "ShardPlan",
    "check_shard",
    "count_lines",
    "find_duplicates",
    "merge_shards",
    "shard_counts",
    "shards_dir_for",
]

_MANIFEST_VERSION = 1


def shards_dir_for(output: Path) -> Path:
    """Where a job's shard files live: `out.jsonl` → `out.shards/`."""
    stem = output.name[: -len(".jsonl")] if output.name.endswith(".jsonl") else output.name
    return output.with_name(stem + ".shards")


@dataclass(frozen=True, slots=True)
class ShardPlan:
    """The input file, its identity when the job began, and each shard's byte range."""

    input: Path
    size: int
    mtime_ns: int
    ranges: tuple[tuple[int, int], ...]

    @classmethod
    def split(cls, path: Path, shards: int) -> ShardPlan:
        """Cut `path` into `shards` equal byte ranges; a line belongs to the range its first
        byte lies in, so no line is split and none is in two shards."""
        if shards < 1:
            raise ConfigError("workers must be >= 1")
        st = path.stat()
        cuts = [st.st_size * i // shards for i in range(shards + 1)]
        ranges = tuple((cuts[i], cuts[i + 1]) for i in range(shards))
        return cls(path.resolve(), st.st_size, st.st_mtime_ns, ranges)

    def shard_path(self, directory: Path, index: int) -> Path:
        """Shard `index`'s output file."""
        return directory / f"shard-{index:05d}.jsonl"

    def shard_paths(self, directory: Path) -> list[Path]:
        """Every shard's output file, in input order."""
        return [self.shard_path(directory, i) for i in range(len(self.ranges))]

    def save(self, directory: Path) -> None:
        """Write the manifest (atomically)."""
        directory.mkdir(parents=True, exist_ok=True)
        data = {
            "version": _MANIFEST_VERSION,
            "input": str(self.input),
            "size": self.size,
            "mtime_ns": self.mtime_ns,
            "ranges": self.ranges,
        }
        tmp = directory / "manifest.json.tmp"
        tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
        os.replace(tmp, directory / "manifest.json")

    @classmethod
    def load(cls, directory: Path) -> ShardPlan | None:
        """The saved plan, or None if this job never started."""
        try:
            data: dict[str, Any] = orjson.loads((directory / "manifest.json").read_bytes())
        except FileNotFoundError:
            return None
        except orjson.JSONDecodeError as e:
            raise ConfigError(f"{directory}/manifest.json is unreadable ({e})") from None
        return cls(
            Path(data["input"]),
            int(data["size"]),
            int(data["mtime_ns"]),
            tuple((int(a), int(b)) for a, b in data["ranges"]),
        )

    def check_same_input(self, path: Path) -> None:
        """Refuse to resume over an input that is not the one the job began with."""
        st = path.stat()
        if (st.st_size, st.st_mtime_ns) != (self.size, self.mtime_ns):
            raise ConfigError(
                f"{path} changed since this job began (size or mtime differ from its "
                "manifest): resuming would mix two inputs; write to a new output instead"
            )


def _cid_hash(cid: str) -> int:
    return int.from_bytes(hashlib.blake2b(cid.encode(), digest_size=8).digest(), "little")


def check_shard(path: Path, byte_range: tuple[int, int]) -> tuple[int, array[int], list[str]]:
    """Validate one shard as the single-process runner validates a file; return its request
    count, the sorted 64-bit hashes of its custom_ids (for duplicates across shards) and
    its problems (empty if none)."""
    ids: dict[str, int] = {}
    try:
        count = validate_input(path, byte_range, seen=ids)
    except BatchInputError as e:
        return 0, array("Q"), e.problems
    return count, array("Q", sorted(map(_cid_hash, ids))), []


def find_duplicates(path: Path, hashes: Iterable[array[int]]) -> list[str]:
    """custom_ids that occur in more than one shard. The shards' sorted hashes are merged in
    one pass; a repeated hash is confirmed against the input (64-bit hashes may collide)."""
    suspects: set[int] = set()
    last: int | None = None
    for h in heapq.merge(*hashes):
        if h == last:
            suspects.add(h)
        last = h
    if not suspects:
        return []
    seen: dict[str, int] = {}
    problems = []
    with path.open("rb") as f:
        for lineno, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            cid = orjson.loads(raw)["custom_id"]
            if _cid_hash(cid) not in suspects:
                continue
            if cid in seen:
                problems.append(
                    f"line {lineno}: duplicate custom_id {cid!r} (first on line {seen[cid]})"
                )
            else:
                seen[cid] = lineno
    return problems


def shard_counts(path: Path) -> tuple[int, int]:
    """The lines a shard's output file and its errors file hold: (results, failures)."""
    return count_lines(path), count_lines(errors_path_for(path))


def count_lines(path: Path) -> int:
    """Complete lines in a file (0 if absent), read in blocks, never whole."""
    try:
        f = path.open("rb")
    except FileNotFoundError:
        return 0
    with f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))


class ShardLock:
    """Exclusive ownership of a shard: a retried worker waits here until the process it
    replaces is gone (the kernel drops a dead process's flock), so one shard file never has
    two writers. The lock file names its holder for operators: host, pid, Ray node id."""

    def __init__(self, path: Path, node: str = "") -> None:
        self.path = path
        self.node = node
        self._fd: int | None = None

    def __enter__(self) -> ShardLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.write(fd, f"{socket.gethostname()} {os.getpid()} {self.node}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)  # releases the lock
            self._fd = None


def _concat(parts: Iterable[Path], target: Path) -> None:
    """Write `parts` one after another to `target` atomically."""
    tmp = target.with_name(target.name + ".tmp")
    with tmp.open("wb") as out:
        for part in parts:
            if part.exists():
                with part.open("rb") as f:
                    shutil.copyfileobj(f, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, target)


def merge_shards(plan: ShardPlan, directory: Path, output: Path, total: int) -> tuple[int, int]:
    """Concatenate the shards' results into `output` and their failures into its errors
    file; return (succeeded, failed) lines. Refuses to merge unless every request of the
    input is in exactly one of them."""
    shards = plan.shard_paths(directory)
    counts = [shard_counts(p) for p in shards]
    succeeded = sum(ok for ok, _ in counts)
    failed = sum(bad for _, bad in counts)
    if succeeded + failed != total:
        raise GroqStreamError(
            f"the shards hold {succeeded + failed} results for {total} requests: not merging; "
            "re-run the same command to finish the missing ones"
        )
    _concat((errors_path_for(p) for p in shards), errors_path_for(output))
    _concat(shards, output)
    return succeeded, failed
