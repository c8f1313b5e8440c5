# stresstrack with its command line; by default a simulated study in real time
# (deploy/stresstrack/live.sh), as the stresstrack service of docker-compose.yml runs it.
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY deploy/stresstrack/constraints.txt ./
COPY stresstrack ./stresstrack
# The exact dependency versions the tests ran with (deploy/stresstrack/constraints.txt).
RUN pip install -c constraints.txt . && rm -rf /src

# Participant data is health data: a user of its own, stores readable by it only.
RUN useradd --create-home --uid 10001 stresstrack && mkdir /data && chown stresstrack /data
COPY deploy/stresstrack/live.sh /usr/local/bin/stresstrack-live
USER stresstrack
WORKDIR /data
VOLUME ["/data"]
CMD ["stresstrack-live"]
