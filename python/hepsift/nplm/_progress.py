"""A tqdm progress bar that degrades to a no-op when tqdm is missing."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass


@contextlib.contextmanager
def progress_bar(*, total: int, initial: int = 0, desc: str = "", disable: bool = False) -> Iterator[Any]:
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover
        yield _NoBar()
        return
    with tqdm(total=total, initial=initial, desc=desc, disable=disable, leave=False) as bar:
        yield bar
