"""One settings model for every VOICEBOT_* knob, read once (issue 20).

Checks on the source (every name used is declared; environment reads only inside functions and
only in the few modules allowed to; no writes to the environment), on the model (a bad value
names its variable), on the CLI (read once in the callback, nothing left installed after) and on
docs/operations.md (its table is the models' own).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audio_models.catalogue import load_catalogue
from telephony.carriers.stream_start import StreamStart
from telephony.carriers.twilio import CARRIER as TWILIO
from voicebot import config
from voicebot.cli import app
from voicebot.config import EngineSettings, SettingsError
from voicebot.server.settings import ServerSettings
from voicebot.settings_table import declared_variables, settings_table

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("voicebot", "telephony", "dialogue", "audio_models")
NAME = re.compile(r"\bVOICEBOT_[A-Z][A-Z0-9_]*[A-Z0-9]\b")
#: Asterisk channel variables (`Set(VOICEBOT_ACCOUNT=...)`), read from the start message, not the environment.
CHANNEL_VARIABLES = {"VOICEBOT_ACCOUNT", "VOICEBOT_STAGE"}
#: The only modules that touch os.environ, and why.
ENV_READERS = {
    "voicebot/config.py": "EngineSettings.from_env",
    "voicebot/server/settings.py": "ServerSettings.from_env",
    "audio_models/environment.py": "audio_models' one reader",
    "dialogue/environment.py": "dialogue's one reader",
    "voicebot/bench/server.py": "copies the environment for the server subprocess it starts",
    "voicebot/cli/serve_cmd.py": "hands the carriers' REST credentials (TELNYX_*...) to telephony as a mapping",
}
WRITERS = {"setdefault", "update", "pop", "popitem", "clear", "__setitem__", "__delitem__"}


def sources(*roots: str) -> list[Path]:
    return sorted(p for root in roots for p in (REPO / root).rglob("*.py") if ".venv" not in p.parts)


def rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def is_environ(node: ast.AST) -> bool:
    """`os.environ`, `environ` (from os import environ), or `os.getenv` / `os.putenv`..."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os":
        return node.attr in ("environ", "environb", "getenv", "putenv", "unsetenv")
    return isinstance(node, ast.Name) and node.id == "environ"


def env_uses(path: Path) -> list[tuple[int, bool]]:
    """(line, inside a function) of every use of the environment in `path`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        if is_environ(node):
            found.append((node.lineno, in_function))
        inner = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, False)
    return found


def env_writes(path: Path) -> list[int]:
    """Lines that write the process environment: os.environ[...] = / del, setdefault, update...,
    os.putenv / os.unsetenv."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets = []
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
        for target in targets:
            if isinstance(target, ast.Subscript) and is_environ(target.value):
                lines.append(node.lineno)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            func = node.func
            if (func.attr in WRITERS and is_environ(func.value)) or (
                    is_environ(func) and func.attr in ("putenv", "unsetenv")):
                lines.append(node.lineno)
    return lines


# -- the source ----------------------------------------------------------------------------------
def test_every_variable_the_code_names_is_declared_in_a_settings_model():
    declared = declared_variables()
    used: dict[str, set[str]] = {}
    for path in sources(*PACKAGES):
        for name in NAME.findall(path.read_text(encoding="utf-8")):
            used.setdefault(name, set()).add(rel(path))
    missing = {name: sorted(where) for name, where in used.items()
               if name not in declared and name not in CHANNEL_VARIABLES}
    assert not missing, f"declare these in voicebot/config.py (or ServerSettings): {missing}"
    assert {"VOICEBOT_TURN", "VOICEBOT_CACHE", "VOICEBOT_INPUT_FRAME_MS", "VOICEBOT_DATABASE_URL"} <= set(used)
    # Variables named in the model catalogue (a user's own model) are declared too.
    catalogue = load_catalogue()
    models = [getattr(e, "model", None) for e in [*catalogue.voices, *catalogue.recognizers]]
    catalogue_vars = {m.env for m in models if m is not None and m.env}
    assert catalogue_vars and catalogue_vars <= set(declared)


def test_the_environment_is_read_only_inside_functions_of_the_allowed_modules():
    at_import, elsewhere = [], []
    for path in sources(*PACKAGES):
        for line, in_function in env_uses(path):
            if not in_function:
                at_import.append(f"{rel(path)}:{line}")
            elif rel(path) not in ENV_READERS and not rel(path).endswith("/__main__.py"):
                elsewhere.append(f"{rel(path)}:{line}")
    assert not at_import, f"read at import time: {at_import}"
    assert not elsewhere, f"read outside the settings and the layers' readers: {elsewhere}"


def test_nothing_writes_the_environment_outside_tests():
    written = [f"{rel(path)}:{line}" for path in sources(*PACKAGES, "benchmarks", "scripts")
               for line in env_writes(path)]
    assert not written, f"pass the value instead of writing the environment: {written}"


def test_the_write_check_sees_a_write():
    """The checks above would pass on nothing: they do catch each kind of write and read."""
    sample = REPO / "var" / "settings_sample.py"
    sample.parent.mkdir(exist_ok=True)
    sample.write_text("import os\nos.environ['A'] = '1'\nos.environ.setdefault('B', '2')\n"
                      "os.putenv('C', '3')\nX = os.environ.get('D')\ndef f():\n    return os.getenv('E')\n")
    try:
        assert env_writes(sample) == [2, 3, 4]
        assert env_uses(sample) == [(2, False), (3, False), (4, False), (5, False), (7, True)]
    finally:
        sample.unlink()


def test_importing_every_module_reads_no_setting():
    """The dynamic twin of the AST check: import each module of the four packages with an
    environment that records which of the settings' variables are read, and by which file (HOME,
    read by Path.home() for Vosk's own search path, is no setting)."""
    probe = f"""
import importlib, os, pkgutil, sys, sysconfig
sys.path.insert(0, {str(REPO)!r})
STDLIB = sysconfig.get_paths()["stdlib"]
seen = []
class Recording(os._Environ):
    def __getitem__(self, key):
        frame = sys._getframe(1)  # the first caller outside the standard library (Mapping.get...)
        while frame.f_code.co_filename.startswith(("<", STDLIB)):
            frame = frame.f_back
        caller = frame.f_code.co_filename
        ours = key.startswith("VOICEBOT_") or key in {sorted(declared_variables())!r}
        if ours and caller.startswith({str(REPO)!r}) and "/.venv/" not in caller:
            seen.append((key, caller))
        return super().__getitem__(key)
env = os.environ
os.environ = Recording(env._data, env.encodekey, env.decodekey, env.encodevalue, env.decodevalue)
exec(compile("import os; os.environ.get('VOICEBOT_TURN')", {str(REPO / "probe.py")!r}, "exec"))
assert seen == [("VOICEBOT_TURN", {str(REPO / "probe.py")!r})], seen  # the probe does see a read
seen.clear()
skipped = ("__main__", "migrations")
for package in {PACKAGES!r}:
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        if not any(part in info.name.split(".") for part in skipped):
            importlib.import_module(info.name)
print(sorted(set(seen)))
"""
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env={"VOICEBOT_TURN": "vad", "VOICEBOT_CACHE": "/nowhere",
                                            "PATH": "/usr/bin:/bin", "HOME": str(Path.home())})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


# -- the model -----------------------------------------------------------------------------------
def test_a_bad_value_names_its_variable():
    with pytest.raises(SettingsError, match=r"VOICEBOT_TURN='fast'.*'text', 'smart' or 'vad'"):
        EngineSettings.from_env({"VOICEBOT_TURN": "fast"})
    with pytest.raises(SettingsError, match=r"VOICEBOT_ASR_THREADS='0': .*greater than or equal to 1"):
        EngineSettings.from_env({"VOICEBOT_ASR_THREADS": "0"})
    with pytest.raises(SettingsError, match=r"VOICEBOT_PROMISE_GRACE"):
        EngineSettings.from_env({"VOICEBOT_PROMISE_GRACE": "soon"})
    with pytest.raises(SettingsError, match=r"VOICEBOT_MAX_CALLS='many'"):
        ServerSettings.from_env({"VOICEBOT_MAX_CALLS": "many"}, accounts_file=Path("a.json"), tokens=["t"])
    with pytest.raises(SettingsError, match=r"VOICEBOT_METRICS_TOKEN=\(hidden\): .*valid string") as refused:
        ServerSettings.from_env({}, accounts_file=Path("a.json"), tokens=["t"], metrics_token=["hunter2"])
    assert "hunter2" not in str(refused.value)  # a secret is never repeated into a log
    with pytest.raises(SettingsError, match=r"VOICEBOT_TRANSFER_NUMBERS: not JSON"):
        ServerSettings.from_env({"VOICEBOT_TRANSFER_NUMBERS": "{collections"}, accounts_file=Path("a.json"),
                                tokens=["t"])


def test_values_are_typed_and_blank_is_unset():
    settings = EngineSettings.from_env({"VOICEBOT_TURN": "smart", "VOICEBOT_TURN_THRESHOLD": "0.7",
                                        "VOICEBOT_PROMISE_GRACE": "1d", "VOICEBOT_TTS_SPLICE": "0",
                                        "REDIS_URL": "redis://127.0.0.1:6390/0", "VOICEBOT_RECOGNIZER": " "})
    assert (settings.turn, settings.turn_threshold, settings.tts_splice) == ("smart", 0.7, False)
    assert settings.promise_grace.days == 1 and settings.redis_url == "redis://127.0.0.1:6390/0"
    assert settings.recognizer is None and EngineSettings.from_env({}) == EngineSettings()


def test_the_server_passes_its_frame_sizes_down_to_the_carriers():
    settings = ServerSettings.from_env({"VOICEBOT_INPUT_FRAME_MS": "20", "VOICEBOT_OUTPUT_FRAME_MS": "60"},
                                       accounts_file=Path("a.json"), tokens=["t"])
    assert settings.output_frame_ms == 60 and settings.limits().input_frame_ms == 20
    start = StreamStart(carrier="twilio", account_id="A1", sample_rate=8000, call_id="CA1", stream_id="MZ1")
    assert TWILIO.serializer(start, settings.limits())._batcher.frame_ms == 20
    assert TWILIO.serializer(start, ServerSettings(accounts_file=Path("a.json"), tokens=["t"])
                             .limits())._batcher.frame_ms == 40


def test_current_follows_the_environment_until_settings_are_installed(monkeypatch):
    monkeypatch.setenv("VOICEBOT_INFERENCE_NICE", "3")
    assert config.current().inference_nice == 3
    config.use(EngineSettings(inference_nice=7))
    try:
        monkeypatch.setenv("VOICEBOT_INFERENCE_NICE", "4")
        assert config.current().inference_nice == 7  # read once: later changes are not seen
    finally:
        config.use(None)
    assert config.current().inference_nice == 4


# -- the CLI -------------------------------------------------------------------------------------
def test_the_cli_refuses_a_bad_setting_by_name_and_leaves_nothing_installed(monkeypatch):
    runner = CliRunner()
    monkeypatch.setenv("VOICEBOT_INFERENCE_NICE", "high")
    result = runner.invoke(app, ["compliance", "profiles"])
    assert result.exit_code == 2
    assert "VOICEBOT_INFERENCE_NICE='high'" in result.output
    monkeypatch.setenv("VOICEBOT_INFERENCE_NICE", "2")
    result = runner.invoke(app, ["compliance", "profiles"])
    assert result.exit_code == 0, result.output
    assert config._installed is None


# -- the document --------------------------------------------------------------------------------
def test_the_operations_guide_lists_every_setting():
    text = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    begin, end = "<!-- settings table: python -m voicebot.settings_table -->\n", "<!-- end of settings table -->"
    assert begin in text and end in text, "docs/operations.md lost its settings table markers"
    documented = text.split(begin, 1)[1].split(end, 1)[0]
    assert documented == settings_table(), "regenerate: python -m voicebot.settings_table"
