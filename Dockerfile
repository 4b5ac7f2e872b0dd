# syntax=docker/dockerfile:1
# Build: docker build -t starsbot .
# Run:   docker run -v starsbot-data:/data -p 8080:8080 starsbot
#
# Stopping: on SIGTERM starsbot lets requests, bot updates and a delivery
# step in progress finish for at most 8 s (api.ShutdownTimeout,
# bot.DefaultShutdownGrace, fulfillment.DefaultGrace, all at once), then
# closes the database: within `docker stop`'s default 10 s before SIGKILL.
# If you raise a grace, raise docker's --stop-timeout (compose:
# stop_grace_period) above it too. A delivery cut by SIGKILL is still safe:
# it resumes from its recorded step at the next start.
#
# The base images are the official ones unless a build argument names
# others: scripts/compose-standins.sh builds local stand-ins from Debian
# packages for a machine that cannot reach Docker Hub or gcr.io (README,
# "Several replicas"), e.g.
#   docker build --build-arg GO_IMAGE=starsbot-local/golang:1.26 \
#     --build-arg RUNTIME_IMAGE=starsbot-local/static:nonroot -t starsbot .
ARG GO_IMAGE=golang:1.26
ARG RUNTIME_IMAGE=gcr.io/distroless/static-debian12:nonroot

FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
# go.mod replaces starsbot/sdk with ./sdk: its go.mod is part of the graph.
COPY sdk/go.mod sdk/
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/starsbot . \
 && mkdir -p /out/data

FROM ${RUNTIME_IMAGE}
COPY --from=build /out/starsbot /usr/local/bin/starsbot
COPY --from=build --chown=65532:65532 /out/data /data
ENV DATA_DIR=/data \
    HTTP_ADDR=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/starsbot"]
