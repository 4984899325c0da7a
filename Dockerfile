# needmap's service on a server: `needmap serve` (FastAPI on uvicorn) with CPU-only PyTorch.
#   docker build -t needmap .
#   docker run -p 8000:8000 -e NEEDMAP_API_KEYS=... -v "$PWD/models:/models:ro" needmap /models/bank
# docker compose (compose.yaml) runs it beside PostgreSQL and Redis. The quick start stays `make demo`.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# PyTorch's CPU build first, so that installing needmap does not pull a CUDA build of several GB.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

WORKDIR /app
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
RUN pip install '.[serve,onnx]'

# The service runs as a user without privileges; models are mounted read-only at /models.
RUN useradd --create-home --uid 10001 needmap
USER needmap
EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=3s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"

# Bound to every interface inside the container: the service refuses that without API keys
# (NEEDMAP_API_KEYS or --api-keys-file), so a container never serves unauthenticated by accident.
ENTRYPOINT ["needmap", "serve", "--host", "0.0.0.0", "--port", "8000"]
CMD ["/models/model"]
