# syntax=docker/dockerfile:1
# canarygate's container image: the operator (`canarygate run`) and every other command.
#
# Two stages: `build` turns the source into wheels (canarygate's and each runtime dependency's),
# the final stage installs only those wheels (no index, no compiler, no dev extras) on a slim
# Python and runs as an unprivileged numeric user, so `runAsNonRoot` can verify it. Nothing in
# the final stage needs a writable root filesystem: no bytecode is written at run time.
#
#   docker build -t canarygate:0.1.0 .
#   docker run --rm canarygate:0.1.0 --version
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
# pyproject.toml names README.md as the package's long description.
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# The wheels are mounted for this one step, never copied into a layer.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels canarygate \
    && canarygate --version
# 65532: the conventional "nonroot" uid/gid of distroless images; no home, no shell login.
USER 65532:65532
# --metrics-address (/metrics) and --health-address (/healthz, /readyz) defaults.
EXPOSE 8080 8081
ENTRYPOINT ["canarygate"]
CMD ["run"]
