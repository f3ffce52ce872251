# runner's daemon in a container: the jobs from a folder mounted (or baked) at
# /etc/runner/jobs.d, the state (SQLite store, task logs, API tokens) on the volume
# /var/lib/runner. Build and run (the README's "In a container" says more):
#   docker build -t runner:dev .
#   docker run -d --name runner -v runner-state:/var/lib/runner \
#     -v "$PWD/jobs.d:/etc/runner/jobs.d:ro" runner:dev
#   docker exec runner runner status
#   docker stop -t 45 runner          # longer than the daemon's --grace (30s)
# Arguments after the image go to `runner daemon` (--api 0.0.0.0:8080, --log-format json,
# --store postgresql://..., --max-parallel N).
#
# Another base: --build-arg PYTHON_IMAGE=... (Debian-based, Python >= 3.11, with
# `python3 -m venv`); pin it by digest (python:3.11-slim-bookworm@sha256:...) for builds
# that must repeat.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md requirements.lock ./
COPY runner ./runner
# The versions CI last tested (requirements.lock), with PostgreSQL's driver; into a
# virtual environment that the next stage copies whole.
RUN python3 -m venv /opt/runner \
    && /opt/runner/bin/pip install --no-cache-dir --disable-pip-version-check \
        -c requirements.lock '.[postgres]'
COPY deploy/healthcheck.py /opt/runner/libexec/healthcheck.py

FROM ${PYTHON_IMAGE}
# tini as PID 1: it passes docker's SIGTERM on to the daemon and reaps the orphans that
# tasks leave behind (a daemon as PID 1 would collect them as zombies).
# TODO(--git): once `runner daemon --git URL` lands (it clones and pulls the jobs
# itself), add git here (`git openssh-client`; ca-certificates is in the base) and see
# the CMD at the end.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*
# A fixed uid/gid, so that a host folder mounted at /var/lib/runner can be given to it
# (chown 10001:10001). Its HOME (what tasks get as HOME) is outside the volume.
RUN groupadd --system --gid 10001 runner \
    && useradd --system --uid 10001 --gid runner --home-dir /home/runner --create-home \
        --shell /usr/sbin/nologin runner \
    && install -d -o runner -g runner -m 0700 /var/lib/runner \
    && install -d -m 0755 /etc/runner/jobs.d
COPY --from=build /opt/runner /opt/runner
ENV PATH=/opt/runner/bin:$PATH \
    RUNNER_HOME=/var/lib/runner \
    RUNNER_CONFIG=/etc/runner/jobs.d \
    PYTHONUNBUFFERED=1
VOLUME ["/var/lib/runner"]
WORKDIR /var/lib/runner
USER runner:runner
# The API, when started with --api 0.0.0.0:8080 (on an address other than loopback it
# needs a token: -e RUNNER_API_TOKEN=..., or `runner token add` into the volume).
EXPOSE 8080
# With --api: GET /healthz. Without: `runner status` says a daemon holds the home.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/opt/runner/bin/python", "/opt/runner/libexec/healthcheck.py"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["tini", "--", "runner", "daemon"]
# TODO(--git): then the default becomes the remote, for example
#   CMD ["--git", "https://git.example.org/ops/jobs.git"]
# (or the remote as an environment variable, if the flag gets one), and the mount of
# /etc/runner/jobs.d is no longer needed. Until then: mount or bake the folder.
CMD []
