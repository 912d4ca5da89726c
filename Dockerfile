# Production image: the API and worker, no embedded PostgreSQL. DATABASE_URL is required.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN python -m venv /venv && /venv/bin/pip install .

FROM python:3.11-slim
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 LOG_FORMAT=json PORT=8000 \
    SCORECARD_PROJECT_ROOT=/app
RUN useradd --system --uid 10001 --no-create-home scorecard
COPY --from=build /venv /venv
COPY --from=build /app/alembic.ini /app/alembic.ini
COPY --from=build /app/migrations /app/migrations
WORKDIR /app
USER scorecard
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import os, urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/healthz')"
CMD ["sh", "-c", ": \"${DATABASE_URL:?DATABASE_URL is required}\"; exec scorecard serve --host 0.0.0.0 --port \"$PORT\""]
