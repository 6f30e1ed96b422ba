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
# The CUDA version torch's wheels are built for (the highest nvidia-cuda-runtime in the lock;
# harness images build passes it): the NVIDIA Container Toolkit refuses to start the container
# on a driver too old for it, and make bench-gpu's preflight says so before the build.
ARG CUDA_VERSION=13.0
LABEL org.harness.target="cuda" \
      org.harness.base="${BASE}" \
      org.harness.cuda="${CUDA_VERSION}"

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
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    NVIDIA_REQUIRE_CUDA="cuda>=${CUDA_VERSION}"

# A C/C++ compiler and Python's headers: torch.compile needs them at run time (inductor builds
# C++ on the CPU, Triton a C launcher on the GPU). A base made by docker/bootstrap-base.sh has
# them; for one without (python:3.11-slim has the headers, not gcc), harness images build puts
# the base's own .debs in the context's debs/, downloaded on the host (no network here).
COPY debs /opt/debs
RUN set -e; if ls /opt/debs/*.deb >/dev/null 2>&1; then dpkg -i /opt/debs/*.deb >/dev/null; fi; \
    rm -rf /opt/debs; \
    if ! { gcc --version && g++ --version && python3 -c "import os, sysconfig; \
assert os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h'))"; } >/dev/null; \
    then echo "the base has no C/C++ compiler or no Python.h: see docker/README.md" >&2; exit 1; fi

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
