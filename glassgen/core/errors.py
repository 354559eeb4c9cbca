"""The one exception type users see for bad input.

Every reader and validator raises :class:`InputError` with the file (or object)
name and the problem in one line, so the CLI can print it without a traceback.
"""
from __future__ import annotations


class InputError(ValueError):
    """Bad user input: a file, an array or a recipe that glassgen cannot use."""

    def __init__(self, source: str | None, problem: str):
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}" if source else problem)
