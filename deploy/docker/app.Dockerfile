# The Python 3.11 image: account backend, chat gateway and their migration commands.
#   docker build -f deploy/docker/app.Dockerfile -t <registry>/pomocnik-app:<version> .
# Dependencies come only from requirements/app.lock (every package pinned), as `make env` does.
# The base image is pinned to the interpreter the project is tested with (scripts/find-python.sh
# finds 3.11; CI and the benchmarks ran 3.11.7); pin its digest in your registry too if you can.
FROM python:3.11.7-slim-bookworm AS build
# A compiler for any pinned package that has no wheel for this platform; it stays in this stage.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
COPY requirements/app.lock requirements/app.lock
RUN python -m pip install "pip==24.2" \
 && python -m pip install -r requirements/app.lock \
 && python -m pip check

FROM python:3.11.7-slim-bookworm
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app
WORKDIR /app
COPY . /app
RUN groupadd --gid 10001 pomocnik && useradd --uid 10001 --gid 10001 --no-create-home pomocnik
USER 10001:10001

# deploy/gateway.yaml and deploy/backend.yaml set the command (python -m bot.gateway / backend).
CMD ["python", "-m", "bot.gateway"]
