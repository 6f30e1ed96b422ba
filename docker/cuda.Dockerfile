# The CUDA image: Python, the project, torch's CUDA build, TensorFlow with its CUDA wheels, CuPy
# and nvidia-ml-py, installed offline from a wheelhouse prepared on the host (no network inside
# the build). No nvidia/cuda base: the CUDA runtime, cuBLAS, cuDNN and NCCL come as nvidia-*
# wheels, and the NVIDIA Container Toolkit mounts the driver when the container starts.
#   harness images build --target cuda [--base IMAGE]    (or: make images-cuda)
# Run with GPUs: harness run --launcher docker --image cuda --gpus all.
# BASE is any Debian-like image with python3.11 and its venv module: python:3.11-slim by
# default, or a registry-free base made by docker/bootstrap-base.sh.
ARG BASE=python:3.11-slim
FROM ${BASE}

ARG BASE
LABEL org.harness.target="cuda" \
      org.harness.base="${BASE}"

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_INDEX=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp \
    KERAS_HOME=/tmp/keras \
    MPLCONFIGDIR=/tmp/matplotlib \
    HARNESS_DATA_DIR=/tmp/harness-data \
    HARNESS_SCRATCH_DIR=/scratch \
    TF_CPP_MIN_LOG_LEVEL=2 \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility

RUN python3 -m venv /opt/venv && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin harness \
    && mkdir -p /scratch && chown 10001:10001 /scratch
ENV PATH=/opt/venv/bin:$PATH

# Dependencies first (a layer that changes only with the lock), then the project's own wheel.
COPY constraints.txt /opt/harness/constraints.txt
COPY wheels /opt/wheels
# hadolint ignore=DL3013
RUN pip install --no-cache-dir --no-index --find-links /opt/wheels \
        -c /opt/harness/constraints.txt -r /opt/wheels/requirements.txt \
    && rm -rf /opt/wheels
COPY project /opt/project-wheel
# hadolint ignore=DL3013
RUN pip install --no-cache-dir --no-index --no-deps /opt/project-wheel/*.whl \
    && rm -rf /opt/project-wheel

# Last, so that a new checkout rebuilds only this layer and the project's.
ARG SOURCE_HASH=unknown
LABEL org.harness.source_hash="${SOURCE_HASH}"

USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["python3", "-m", "harness.worker"]
