# The CUDA image: an NVIDIA CUDA + cuDNN runtime base, CUDA builds of torch and TensorFlow,
# installed offline from a wheelhouse prepared on the host.
#   harness images build --target cuda [--base IMAGE]    (or: make images-cuda)
# Run with GPUs: harness run --launcher docker --image cuda --gpus all  (needs the NVIDIA
# Container Toolkit on the host).
ARG BASE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
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

# The nvidia/cuda bases carry no Python: it comes from the base's own packages when missing
# (the one step that needs a network; `harness images build --target cuda` allows it only for
# the default base). An air-gapped site passes --base with python3 and python3-venv inside.
# hadolint ignore=DL3008
RUN if ! command -v python3 >/dev/null; then \
        apt-get update \
        && apt-get install -y --no-install-recommends python3 python3-venv \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && python3 -m venv /opt/venv \
    && (id -u 10001 >/dev/null 2>&1 || useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin harness) \
    && mkdir -p /scratch && chown 10001:10001 /scratch
ENV PATH=/opt/venv/bin:$PATH

COPY requirements/constraints.txt /opt/harness/constraints.txt
COPY docker/wheelhouse/cuda /opt/wheels
# hadolint ignore=DL3013
RUN pip install --no-cache-dir --no-index --find-links /opt/wheels \
        -c /opt/harness/constraints.txt -r /opt/wheels/requirements.txt \
    && rm -rf /opt/wheels
COPY docker/wheelhouse/project /opt/project-wheel
# hadolint ignore=DL3013
RUN pip install --no-cache-dir --no-index --no-deps /opt/project-wheel/*.whl \
    && rm -rf /opt/project-wheel

# Last, so that a new checkout rebuilds only this layer and the project's.
ARG SOURCE_HASH=unknown
LABEL org.harness.source_hash="${SOURCE_HASH}"

USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["python3", "-m", "harness.worker"]
