#!/usr/bin/env bash
# One-shot, idempotent set-up: makes .venv/ at the repo root with the `voicebot` command in it.
# Re-running is cheap: the install step is skipped while pyproject.toml is unchanged.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
# System tools: espeak-ng speaks Mandarin and synthesises test callers; sox converts audio;
# redis-server is the live bus the tests start privately (production points REDIS_URL at one).
missing=()
# chromium drives the console tests (Playwright with executable_path, no browser download);
# haproxy fronts the replicas of the multi-replica topology test (deploy/haproxy.cfg).
for tool in espeak-ng sox redis-server chromium haproxy; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup.sh: please install ${missing[*]} (apt-get install ${missing[*]})" >&2; exit 1
  fi
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.voicebot-installed
want=$(sha256sum pyproject.toml setup.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  echo "$want" > "$stamp"
fi
