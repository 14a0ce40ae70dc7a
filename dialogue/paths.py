"""Where the shipped scripts live, overridable for deployments that keep scripts elsewhere."""

from __future__ import annotations

from pathlib import Path

from dialogue.environment import SCRIPTS_ENV, setting

REPO_ROOT = Path(__file__).resolve().parents[1]


def scripts_root() -> Path:
    """$VOICEBOT_SCRIPTS, else the shipped scripts/."""
    return Path(setting(SCRIPTS_ENV) or REPO_ROOT / "scripts")


def locale_dir(locale: str) -> Path:
    path = scripts_root() / locale
    if not (path / "strategy.yaml").is_file():
        available = sorted(p.name for p in scripts_root().iterdir() if (p / "strategy.yaml").is_file())
        raise FileNotFoundError(f"no scripts for locale {locale!r} under {scripts_root()} "
                                f"(available: {', '.join(available) or 'none'})")
    return path
