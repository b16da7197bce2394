"""Code locations as opfleet names them: exactly one of module, package or python_file.

The step handler derives a location from a run's code pointer; the worker's allow-list and
the step host's preloads name locations as `module:NAME`, `package:NAME` or `file:/abs.py`;
the step host checks that a request's location is the one the run's own origin names.
All three go through this module so they cannot disagree.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast

from dagster._core.code_pointer import (
    CodePointer,
    FileCodePointer,
    ModuleCodePointer,
    PackageCodePointer,
)

LocationKind = Literal["module", "package", "python_file"]
_KINDS: tuple[LocationKind, ...] = ("module", "package", "python_file")
_PRELOAD_PREFIX: dict[str, LocationKind] = {
    "module": "module",
    "package": "package",
    "file": "python_file",
}


class CodeLocationError(ValueError):
    """A code location that opfleet cannot name or that is malformed."""


@dataclass(frozen=True)
class CodeLocation:
    kind: LocationKind
    name: str

    def to_json(self) -> dict[str, str]:
        return {self.kind: self.name}

    def describe(self) -> str:
        prefix = "file" if self.kind == "python_file" else self.kind
        return f"{prefix}:{self.name}"

    @staticmethod
    def from_json(value: object) -> CodeLocation:
        if not isinstance(value, Mapping) or len(value) != 1:
            raise CodeLocationError(
                "code_location must be an object with exactly one of module, package or"
                f" python_file, not {value!r}"
            )
        ((kind, name),) = value.items()
        if kind not in _KINDS or not isinstance(name, str) or not name:
            raise CodeLocationError(f"code_location {dict(value)!r} is not valid")
        if kind == "python_file" and not os.path.isabs(name):
            raise CodeLocationError(f"code_location python_file must be absolute: {name!r}")
        return CodeLocation(cast("LocationKind", kind), name)

    @staticmethod
    def from_preload(text: str) -> CodeLocation:
        prefix, sep, name = text.partition(":")
        kind = _PRELOAD_PREFIX.get(prefix)
        if not sep or kind is None or not name:
            raise CodeLocationError(
                f"preload {text!r} is not module:NAME, package:NAME or file:/abs/path.py"
            )
        if kind == "python_file" and not os.path.isabs(name):
            raise CodeLocationError(f"preload {text!r}: the file must be an absolute path")
        return CodeLocation(kind, os.path.normpath(name) if kind == "python_file" else name)

    @staticmethod
    def from_pointer(pointer: CodePointer, cwd: str) -> CodeLocation:
        """The location a Dagster code pointer loads from.

        A relative python_file is resolved the way Dagster's loader resolves it: against the
        loading process's current directory (`cwd`), not the pointer's working directory
        (which Dagster only puts on sys.path).
        """
        if isinstance(pointer, ModuleCodePointer):
            return CodeLocation("module", pointer.module)
        if isinstance(pointer, PackageCodePointer):
            return CodeLocation("package", pointer.module)
        if isinstance(pointer, FileCodePointer):
            path = os.path.expanduser(pointer.python_file)
            if not os.path.isabs(path):
                path = os.path.join(cwd, path)
            return CodeLocation("python_file", os.path.normpath(path))
        raise CodeLocationError(
            f"opfleet runs steps from module, package or python_file code locations only;"
            f" this run's code pointer is a {type(pointer).__name__} ({pointer.describe()})"
        )


def pointer_working_directory(pointer: CodePointer) -> str | None:
    """The pointer's working directory, made absolute (None when it has none)."""
    working_directory = getattr(pointer, "working_directory", None)
    if not isinstance(working_directory, str) or not working_directory:
        return None
    return os.path.abspath(os.path.expanduser(working_directory))
