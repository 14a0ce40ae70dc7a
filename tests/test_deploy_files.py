"""The deployment files (issue 20) hold together: compose.yaml's services, health checks and
secrets, the Dockerfile's sources and command, and the proxy config both compose and the
process topology (tests/test_topology.py) run.

No image is built here (this machine has a docker CLI but no daemon, CI neither): what can be
checked without one is checked against the real things: the files the Dockerfile copies exist,
its `voicebot` command lines use options the CLI has, and `haproxy -c` accepts the config with
compose's environment."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import typer
import yaml

from conftest import REPO

COMPOSE = yaml.safe_load((REPO / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (REPO / "Dockerfile").read_text()
HAPROXY_CFG = REPO / "deploy" / "haproxy.cfg"
SECRETS = ("POSTGRES_PASSWORD", "VOICEBOT_TOKENS", "VOICEBOT_CONSOLE_SECRET", "VOICEBOT_TOKEN")


def _replicas() -> dict[str, dict]:
    """Services running the image's default command: `voicebot serve`."""
    return {name: s for name, s in SERVICES.items() if s.get("build") == "." and "command" not in s}


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (continuation lines joined, comments dropped)."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def _options(*command: str) -> set[str]:
    """Every option name of `voicebot <command...>`, from the CLI itself."""
    from voicebot.cli import app

    click_command = typer.main.get_command(app)
    for name in command:
        click_command = click_command.commands[name]
    return {opt for param in click_command.params for opt in (*param.opts, *param.secondary_opts)}


def _used_options(argv: list[str]) -> set[str]:
    return {arg.split("=")[0] for arg in argv if arg.startswith("--")}


def test_compose_runs_the_topology_of_issue_20():
    replicas = _replicas()
    assert len(replicas) == 2, list(SERVICES)
    assert SERVICES["redis"]["image"].startswith("redis:")
    assert SERVICES["postgres"]["image"].startswith("postgres:")
    for name, replica in replicas.items():
        env = replica["environment"]
        assert env["REDIS_URL"].startswith("redis://redis:"), name
        assert env["VOICEBOT_DATABASE_URL"].startswith("postgresql://") and "@postgres:" in env["VOICEBOT_DATABASE_URL"]
        assert {"redis", "postgres"} <= set(replica["depends_on"])
        # SIGKILL only after the drain (300 s) and the records' 15 s
        assert int(replica["stop_grace_period"].rstrip("s")) > 315
    worker = SERVICES["campaign"]
    assert worker["command"][:2] == ["campaign", "run"]
    assert worker["command"][worker["command"].index("--server") + 1] == "ws://proxy:8080"
    assert worker["healthcheck"] == {"disable": True}, "the worker serves no /ready"
    assert _used_options(worker["command"]) <= _options("campaign", "run")


def test_every_part_has_a_health_check_and_the_proxy_waits_for_ready_replicas():
    for name in ("redis", "postgres", *_replicas()):
        check = SERVICES[name]["healthcheck"]["test"]
        assert check[0] == "CMD" and len(check) > 1, name
    for name, replica in _replicas().items():
        assert "/ready" in " ".join(replica["healthcheck"]["test"]), name
    proxy = SERVICES["proxy"]
    assert {name: c["condition"] for name, c in proxy["depends_on"].items()} == {
        name: "service_healthy" for name in _replicas()}


def test_the_proxy_config_is_the_deploy_file_and_routes_to_both_replicas():
    proxy = SERVICES["proxy"]
    assert proxy["image"].startswith("haproxy:")
    mounted = {v.split(":")[0]: v.split(":")[1] for v in proxy["volumes"]}
    assert mounted.get("./deploy/haproxy.cfg") == "/usr/local/etc/haproxy/haproxy.cfg", mounted
    targets = {v for k, v in proxy["environment"].items() if k.startswith("REPLICA_")}
    assert targets == {f"{name}:8080" for name in _replicas()}

    config = HAPROXY_CFG.read_text()
    sections = {}
    for block in re.split(r"\n(?=\S)", config):
        head, _, body = block.partition("\n")
        sections[head.strip()] = [line.strip() for line in body.splitlines()
                                  if line.strip() and not line.strip().startswith("#")]
    frontend, backend = sections["frontend voicebot"], sections["backend replicas"]
    # one backend for every path: /media/<carrier> (WebSocket) and /console go to both replicas
    assert "default_backend replicas" in frontend
    assert not [line for line in frontend if line.startswith(("use_backend", "http-request deny"))]
    servers = [line for line in backend if line.startswith("server ")]
    assert [s.split()[2] for s in servers] == [f'"${{REPLICA_{i}}}"' for i in (1, 2)]
    assert all(" check" in s for s in servers)
    assert "option httpchk GET /ready" in backend and "http-check expect status 200" in backend
    assert "balance leastconn" in backend
    # an upgraded WebSocket lives as long as its call, not `timeout client/server`
    assert any(line.startswith("timeout tunnel") for line in sections["defaults"])


@pytest.mark.skipif(shutil.which("haproxy") is None and not Path("/usr/sbin/haproxy").exists(),
                    reason="haproxy is not installed: ./setup.sh installs it")
def test_haproxy_accepts_the_config_with_composes_environment():
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    env = {k: str(v) for k, v in SERVICES["proxy"]["environment"].items()}
    # compose resolves the replicas' names; here any resolvable host stands in for them
    env.update({k: "127.0.0.1:8080" for k in env if k.startswith("REPLICA_")})
    checked = subprocess.run([haproxy, "-c", "-f", str(HAPROXY_CFG)], env=env, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_secrets_come_from_the_environment_not_the_files():
    for name, service in SERVICES.items():
        for key, value in (service.get("environment") or {}).items():
            if key in SECRETS:
                assert re.fullmatch(r"\$\{\w+:\?[^}]+\}", str(value)), f"{name}: {key} must be required from the environment"
        url = (service.get("environment") or {}).get("VOICEBOT_DATABASE_URL")
        if url:
            assert "${POSTGRES_PASSWORD:?" in url, name
    baked = [rest for keyword, rest in _instructions() if keyword in ("ENV", "ARG")
             and re.search(r"TOKEN|SECRET|PASSWORD", rest)]
    assert not baked, baked


def test_the_dockerfile_copies_what_exists_and_runs_serve_as_a_user():
    steps = _instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    copied = [rest.split()[:-1] for keyword, rest in steps if keyword == "COPY"]
    assert copied, "the Dockerfile copies the project"
    for sources in copied:
        for source in sources:
            assert (REPO / source).exists(), f"COPY {source}: no such file in the repository"
    # pyproject.toml's packages and the shipped scripts are all in the image
    names = {Path(s).name for sources in copied for s in sources}
    assert {"pyproject.toml", "README.md", "voicebot", "dialogue", "audio_models", "telephony", "scripts"} <= names
    ignored = (REPO / ".dockerignore").read_text().split()
    assert not names & set(ignored), "a copied path is in .dockerignore"
    users = [rest for keyword, rest in steps if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert "/ready" in next(rest for keyword, rest in steps if keyword == "HEALTHCHECK")
    entrypoint = yaml.safe_load(next(rest for keyword, rest in steps if keyword == "ENTRYPOINT"))
    command = yaml.safe_load(next(rest for keyword, rest in steps if keyword == "CMD"))
    assert entrypoint == ["voicebot"] and command[0] == "serve"
    assert _used_options(command) <= _options("serve")
    assert command[command.index("--host") + 1] == "0.0.0.0"
    # the same install as setup.sh: the project in place, its model packages with it
    installs = [rest for keyword, rest in steps if keyword == "RUN" and "pip install" in rest]
    assert any(shlex.split(r)[shlex.split(r).index("install") + 1:][:2] == ["-e", "."] for r in installs), installs
