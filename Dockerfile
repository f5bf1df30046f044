FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY dam ./dam
COPY generative ./generative
COPY provenance ./provenance
COPY templates ./templates
COPY manage.py ./
# Pass --build-arg PIP_EXTRA_INDEX_URL=<a CPU wheel index> for a CPU-only torch.
ARG PIP_EXTRA_INDEX_URL=""
RUN pip install --no-cache-dir "torch==2.13.0" \
 && pip install --no-cache-dir -e .
RUN useradd --create-home brandforge && mkdir -p /var/lib/brandforge && chown brandforge /var/lib/brandforge
USER brandforge
EXPOSE 8000
