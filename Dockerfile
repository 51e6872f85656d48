# The grading image: Debian 12, Python, bubblewrap, CPU torch and minigpt[grading]. The course
# folder, the submissions and Tiny Shakespeare are mounted when it runs, and every student's code
# still runs in a bubblewrap sandbox of its own inside it (book/for-instructors.md, "Grading where
# bubblewrap is missing"). Build it from the course folder, with docker or podman:
#
#     docker build -t minigpt-grader .
#
# benchmarks/container_grading.py builds it on a machine without an image registry (a base
# image made by debootstrap, torch from a local wheel) and grades two notebooks with it.
ARG BASE=docker.io/library/debian:bookworm-slim
FROM ${BASE}

RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap ca-certificates python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*

# The CPU build of torch, never the multi-gigabyte CUDA one. Where PyTorch's CPU index cannot be
# reached, TORCH and TORCH_PIP_ARGS point pip at a local wheel instead.
ARG TORCH="torch==2.13.0"
ARG TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
ENV VIRTUAL_ENV=/opt/minigpt/venv
ENV PATH=/opt/minigpt/venv/bin:$PATH
RUN python3 -m venv "$VIRTUAL_ENV" \
    && pip install --no-cache-dir --disable-pip-version-check $TORCH_PIP_ARGS "$TORCH"

# The package from this folder (.dockerignore sends nothing else), and the kernel nbgrader asks for.
COPY pyproject.toml README.md /opt/minigpt/src/
COPY minigpt /opt/minigpt/src/minigpt
RUN pip install --no-cache-dir --disable-pip-version-check "/opt/minigpt/src[grading]" \
    && python -m ipykernel install --sys-prefix --name python3 \
    && rm -rf /opt/minigpt/src

# Grading runs without a network: the data folder is mounted read-only at /data.
ENV MINIGPT_DATA_DIR=/data
WORKDIR /course
CMD ["minigpt", "doctor", "--require-sandbox"]
