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
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
# go.mod replaces starsbot/sdk with ./sdk: its go.mod is part of the graph.
COPY sdk/go.mod sdk/
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/starsbot . \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/starsbot /usr/local/bin/starsbot
COPY --from=build --chown=65532:65532 /out/data /data
ENV DATA_DIR=/data \
    HTTP_ADDR=0.0.0.0:8080
VOLUME ["/data"]
EXPOSE 8080
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/starsbot"]
