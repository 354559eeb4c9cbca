"""Training data read when it is needed: the items of many files as one sequence, a bounded cache, a worker pool.

A training set of a thousand files is not loaded whole. ``Stream(keys, load)`` keeps only how many items each
key (a file) gives; ``stream[i]`` reads the file of item i with ``load(key) -> list of items`` and keeps the
``cache`` files used last. Threads of a pool of ``workers`` read ahead: the next files while the stream is
iterated, and the files of the items named by :meth:`Stream.prefetch` (a trainer that knows its next
configurations). numpy, h5py's decompression and the neighbour search spend most of their time outside the
GIL, so threads overlap reading with training; nothing is copied between processes.

:meth:`Stream.derived` adds a value computed from an item (its neighbour graph, say): it is made by the thread
that reads the file, kept with the item, and dropped with it.

A file that cannot be read is an :class:`InputError` naming it, in one line.
"""
from __future__ import annotations

import zipfile
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from glassgen.core.errors import InputError

UNREADABLE = (OSError, ValueError, KeyError, EOFError, IndexError, zipfile.BadZipFile)


class Stream(Sequence):
    """The items of ``load(key)`` for every key, in order, read on demand.

    Args:
        keys: one per file (a path, a configuration id).
        load: ``key -> list`` of the file's items (dicts, to carry derived values).
        counts: items per key when known (e.g. one configuration per file); None reads every file once to count
            (the first ``cache`` files read stay cached).
        workers: reading threads (0: read in the calling thread only).
        cache: files kept in memory, least recently used dropped first.
        name: ``key -> str``, the file an error names (default ``str(key)``).
    """

    def __init__(self, keys, load, counts=None, workers: int = 4, cache: int = 64, name=str):
        self.keys, self._load, self._name = list(keys), load, name
        if int(workers) < 0 or int(cache) < 1:
            raise InputError("data", f"workers must be >= 0 and cache >= 1; got {workers}, {cache}")
        self.workers, self.cache = int(workers), int(cache)
        self._cached, self._pending, self._derive = OrderedDict(), {}, {}
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="glassgen-read") if self.workers else None
        if counts is None:
            counts = [len(items) for items in self._files()]
        if len(counts) != len(self.keys):
            raise ValueError(f"{len(counts)} counts for {len(self.keys)} keys")
        self._starts = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])

    def __len__(self) -> int:
        return int(self._starts[-1])

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"item {i} of a stream of {n}")
        i = int(i) % n
        f = int(np.searchsorted(self._starts, i, side="right")) - 1
        return self._file(f)[i - int(self._starts[f])]

    def __iter__(self):
        return (item for items in self._files() for item in items)

    def prefetch(self, indices) -> None:
        """Start reading the files of items ``indices`` in the pool (no-op without workers or when cached)."""
        if self._pool is None:
            return
        for i in indices:
            f = int(np.searchsorted(self._starts, int(i) % len(self), side="right")) - 1
            if f not in self._cached and f not in self._pending and len(self._pending) < self.cache:
                self._pending[f] = self._pool.submit(self._read, f)

    def derived(self, name: str, fn) -> "Derived":
        """A sequence of ``fn(item)``, made when a file is read (or on first use) and kept as ``item[name]``."""
        self._derive[name] = fn
        return Derived(self, name, fn)

    def mapped(self, fn) -> "Mapped":
        """A sequence of ``fn(item)``, computed at every use and not kept (iterating reads ahead)."""
        return Mapped(self, fn)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._pending.clear()

    # -- reading -----------------------------------------------------------------------
    def _read(self, f: int) -> list:
        key = self.keys[f]
        try:
            items = list(self._load(key))
            for item in items:
                for name, fn in list(self._derive.items()):
                    item[name] = fn(item)
        except InputError:
            raise
        except UNREADABLE as e:
            why = (str(e).strip().splitlines() or [""])[0]
            raise InputError(self._name(key), f"cannot be read ({type(e).__name__}: {why})") from None
        return items

    def _file(self, f: int) -> list:
        if f in self._cached:
            self._cached.move_to_end(f)
            return self._cached[f]
        fut = self._pending.pop(f, None)
        items = fut.result() if fut is not None else self._read(f)
        self._cached[f] = items
        while len(self._cached) > self.cache:
            self._cached.popitem(last=False)
        return items

    def _files(self):
        """Every file's items in order, ``workers`` files read ahead."""
        for f in range(len(self.keys)):
            if self._pool is not None:
                ahead = range(f + 1, min(f + 1 + self.workers, len(self.keys)))
                for g in ahead:
                    if g not in self._cached and g not in self._pending:
                        self._pending[g] = self._pool.submit(self._read, g)
            yield self._file(f)


class Derived(Sequence):
    """``fn(stream[i])`` for every item, computed once per stay of the item in the stream's cache."""

    def __init__(self, stream: Stream, name: str, fn):
        self.stream, self.name, self.fn = stream, name, fn

    def __len__(self) -> int:
        return len(self.stream)

    def __getitem__(self, i):
        item = self.stream[i]
        if self.name not in item:
            item[self.name] = self.fn(item)
        return item[self.name]


class Mapped(Sequence):
    """``fn(stream[i])`` for every item, computed at every use and not kept."""

    def __init__(self, stream: Stream, fn):
        self.stream, self.fn = stream, fn

    def __len__(self) -> int:
        return len(self.stream)

    def __getitem__(self, i):
        return self.fn(self.stream[i])

    def __iter__(self):
        return (self.fn(item) for item in self.stream)
