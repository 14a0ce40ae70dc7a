"""Where a model's files come from, and an error that says how to get them when they are missing.

Models ship inside pip packages (Piper joe, Whisper tiny.en, Vosk Korean), so the usual source is a
package plus a function or a path inside it; a model too big for one package ships in several and
is put together in the cache on first use (`assemble`, see `audio_models.assembled`). A user with
their own model sets an environment variable instead. Resolution never downloads: Vosk's own
download is a separate, opt-in step in `loader.vosk_model`, because a live call must not wait on
the network.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from audio_models.assembled import AssembledModel, ModelAssemblyError
from audio_models.environment import env_value

# Where `vosk.Model(lang=...)` looks before it downloads (vosk/__init__.py MODEL_DIRS).
VOSK_CACHE_DIRS = (Path("/usr/share/vosk"), Path.home() / ".cache" / "vosk")


class ModelNotFoundError(FileNotFoundError):
    """A catalogued model is not installed; the message says what to install or set."""


class ModelSource(BaseModel):
    """One model's origin. Sources are tried in order: env, path, package, assemble, vosk_lang."""

    model_config = ConfigDict(extra="forbid")

    env: str | None = Field(None, description="environment variable naming the model path")
    path: str | None = Field(None, description="file or folder, relative to the catalogue file")
    package: str | None = Field(None, description="importable package that ships the model")
    entry: str | None = Field(None, description="function in `package` that returns the path")
    resource: str | None = Field(None, description="path inside the package folder")
    install: str | None = Field(None, description="what to pip-install when `package` is missing")
    assemble: AssembledModel | None = Field(
        None, description="files of several packages, put together in the cache on first use")
    vosk_lang: str | None = Field(None, description="Vosk language code (Vosk's model cache)")

    @model_validator(mode="after")
    def _one_way_in(self) -> ModelSource:
        if not (self.env or self.path or self.package or self.assemble or self.vosk_lang):
            raise ValueError("a model needs at least one of env, path, package, assemble, vosk_lang")
        if self.package and bool(self.entry) == bool(self.resource):
            raise ValueError("a package source needs exactly one of entry, resource")
        if (self.entry or self.resource) and not self.package:
            raise ValueError("entry/resource need a package")
        return self

    def resolve(self, owner: str, base_dir: Path) -> Path:
        """The model's path on this machine, or ModelNotFoundError naming what to install or set."""
        hints: list[str] = []
        if self.env:
            value = env_value(self.env)
            if value:
                path = Path(value).expanduser()
                if self.vosk_lang:
                    found = _find_vosk_model(path, self.vosk_lang)
                    path = found or path / f"vosk-model-*-{self.vosk_lang}"
                if path.exists():
                    return path
                raise ModelNotFoundError(
                    f"model for {owner!r}: {self.env}={value}, but {path} does not exist"
                )
            hints.append(f"set {self.env} to the model's path")
        if self.path:
            path = (base_dir / self.path).expanduser()
            if path.exists():
                return path
            hints.append(f"put the model at {path}")
        if self.package:
            path = self._from_package()
            if path is not None and path.exists():
                return path
            what = self.install or self.package
            hints.append(
                f"pip install {what}" if path is None else f"reinstall {what} ({path} is missing)"
            )
        if self.assemble:
            if missing := self.assemble.missing():
                hints.append("pip install " + " ".join(missing))
            else:
                try:
                    return self.assemble.assemble()
                except ModelAssemblyError as exc:
                    raise ModelNotFoundError(f"model for {owner!r}: {exc}") from exc
        if self.vosk_lang:
            for folder in VOSK_CACHE_DIRS:
                found = _find_vosk_model(folder, self.vosk_lang)
                if found is not None:
                    return found
            hints.append(
                f"let Vosk download its {self.vosk_lang!r} model (needs internet): "
                f"audio_models.loader.vosk_model({owner!r}, allow_download=True)"
            )
        raise ModelNotFoundError(f"model for {owner!r} is not installed: " + ", or ".join(hints))

    def _from_package(self) -> Path | None:
        """The path the package gives, or None when the package is not installed."""
        assert self.package
        if importlib.util.find_spec(self.package) is None:
            return None
        module = importlib.import_module(self.package)
        if self.entry:
            return Path(getattr(module, self.entry)())
        return Path(module.__file__).parent / (self.resource or "")


def _find_vosk_model(folder: Path, lang: str) -> Path | None:
    """`folder` if it is a Vosk model, else its `vosk-model[-small]-<lang>*` child (Vosk layout)."""
    if (folder / "am").is_dir() or (folder / "conf" / "model.conf").is_file():
        return folder
    if not folder.is_dir():
        return None
    pattern = re.compile(rf"vosk-model(-small)?-{re.escape(lang)}\b")
    return next((c for c in sorted(folder.iterdir()) if c.is_dir() and pattern.match(c.name)), None)
