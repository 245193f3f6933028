# agentwatch worker image: docker build -t ghcr.io/agentwatch/agentwatch:0.1.0 .
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# compilers only in this stage, for any dependency without a wheel
RUN apt-get update && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY streams ./streams
RUN pip install .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    AGENTWATCH_DATA_DIR=/data
COPY --from=build /opt/venv /opt/venv
RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin agentwatch \
    && mkdir -p /data && chown 10001:10001 /data
USER 10001:10001
WORKDIR /data
EXPOSE 9464
ENTRYPOINT ["agentwatch"]
CMD ["run"]
