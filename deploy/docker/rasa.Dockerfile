# The Python 3.10 image (Rasa 3.6 supports nothing newer): the Rasa server, the action server and
# scripts/fetch_model.py. The model is not in the image: deploy/rasa.yaml fetches it.
#   docker build -f deploy/docker/rasa.Dockerfile -t <registry>/pomocnik-rasa:<version> .
# Dependencies come only from requirements/rasa.lock (every package pinned), as `make env` does.
FROM python:3.10.13-slim-bookworm AS build
# A compiler for any pinned package that has no wheel for this platform; it stays in this stage.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
COPY requirements/rasa.lock requirements/rasa.lock
RUN python -m pip install "pip==24.2" \
 && python -m pip install -r requirements/rasa.lock \
 && python -m pip check

FROM python:3.10.13-slim-bookworm
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    RASA_TELEMETRY_ENABLED=false \
    TF_CPP_MIN_LOG_LEVEL=2 \
    MPLCONFIGDIR=/tmp/matplotlib
WORKDIR /app
COPY . /app
RUN groupadd --gid 10001 pomocnik && useradd --uid 10001 --gid 10001 --no-create-home pomocnik
USER 10001:10001

# deploy/rasa.yaml and deploy/actions.yaml set the command (python -m bot.rasa_cli run / python -m actions.server).
CMD ["python", "-m", "actions.server", "--port", "5055"]
