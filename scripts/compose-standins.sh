#!/usr/bin/env bash
# Builds local stand-ins for the images compose.yaml and the Dockerfile use,
# for a machine that cannot reach Docker Hub or gcr.io, from Debian packages
# and this machine's Go toolchain:
#
#   starsbot-local/debian:bookworm  debootstrap --variant=minbase bookworm
#                                   (+ ca-certificates), docker import
#   starsbot-local/postgres:15      for postgres:16: Debian's postgresql-15 and an
#                                   entrypoint doing what compose.yaml asks of
#                                   the official image (POSTGRES_USER,
#                                   POSTGRES_PASSWORD, POSTGRES_DB, the data
#                                   directory, pg_isready on PATH)
#   starsbot-local/golang:1.26      for golang:1.26: that base plus the Go
#                                   toolchain at $(go env GOROOT) and this
#                                   machine's CA bundle (CA_BUNDLE)
#   starsbot-local/static:nonroot   for gcr.io/distroless/static-debian12:nonroot:
#                                   CA certificates, /etc/passwd with nonroot
#                                   (65532), /tmp; nothing else
#
# They are stand-ins for a local run only; deploy with the official images.
# Needs root, a running Docker daemon, debootstrap, Go 1.26 and access to a
# Debian mirror (DEBIAN_MIRROR) and the Go module proxy; DEBOOTSTRAP_CACHE
# names a directory that keeps the downloaded packages for the next run.
# Prints the variables that make `docker compose up --build` use them.
set -euo pipefail

prefix=${STANDIN_PREFIX:-starsbot-local}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
goroot=${GOROOT_DIR:-$(go env GOROOT)}
ca_bundle=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
work=$(mktemp -d /tmp/starsbot-standins.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The legacy builder: BuildKit would fetch the Dockerfile's `# syntax=`
# frontend image from Docker Hub, and the docker CLI may lack buildx.
export DOCKER_BUILDKIT=0

step() { printf '\n== %s\n' "$*"; }

step "$prefix/debian:bookworm (debootstrap from $mirror)"
debootstrap --variant=minbase --include=ca-certificates ${DEBOOTSTRAP_CACHE:+--cache-dir="$DEBOOTSTRAP_CACHE"} \
	bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
	{ tail -20 "$work/debootstrap.log"; exit 1; }
rm -rf "$work"/rootfs/var/cache/apt/archives/*.deb "$work"/rootfs/var/lib/apt/lists/*
tar -C "$work/rootfs" -c . | docker import \
	--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	--change 'CMD ["bash"]' - "$prefix/debian:bookworm"

step "$prefix/postgres:15 (Debian's postgresql-15)"
mkdir "$work/postgres"
cp "$(dirname "$0")/standin-postgres-entrypoint.sh" "$work/postgres/docker-entrypoint.sh"
cat >"$work/postgres/Dockerfile" <<DOCKERFILE
FROM $prefix/debian:bookworm
# No service starts inside a build; no cluster is created at install: the
# entrypoint makes one in PGDATA, as the official image does.
RUN printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d \\
 && apt-get update \\
 && apt-get install -y --no-install-recommends postgresql-common \\
 && sed -ri 's/#(create_main_cluster) .*\$/\1 = false/' /etc/postgresql-common/createcluster.conf \\
 && apt-get install -y --no-install-recommends postgresql-15 \\
 && rm -rf /var/lib/apt/lists/*
ENV PATH=/usr/lib/postgresql/15/bin:\$PATH PGDATA=/var/lib/postgresql/data
COPY docker-entrypoint.sh /usr/local/bin/
VOLUME /var/lib/postgresql/data
EXPOSE 5432
# postgres's fast shutdown, as the official image.
STOPSIGNAL SIGINT
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["postgres"]
DOCKERFILE
docker build -q -t "$prefix/postgres:15" "$work/postgres"

step "$prefix/golang:1.26 (Go from $goroot: $("$goroot/bin/go" version))"
# The build stage fetches modules over HTTPS with this machine's trust
# store ($ca_bundle), so that it works where this machine's own egress
# goes through a TLS-inspecting proxy whose CA only the host trusts.
mkdir "$work/golang"
cp "$ca_bundle" "$work/golang/ca-certificates.crt"
cat >"$work/golang/Dockerfile" <<DOCKERFILE
FROM $prefix/debian:bookworm
COPY go /usr/local/go
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PATH=/go/bin:/usr/local/go/bin:\$PATH GOPATH=/go GOTOOLCHAIN=local
WORKDIR /go
DOCKERFILE
# The context, streamed: the Dockerfile and the bundle beside the Go tree.
tar -c -C "$work/golang" Dockerfile ca-certificates.crt -C "$(dirname "$goroot")" --transform "s,^$(basename "$goroot"),go," "$(basename "$goroot")" |
	docker build -q -t "$prefix/golang:1.26" -

step "$prefix/static:nonroot"
mkdir -p "$work/static/root/etc/ssl/certs" "$work/static/root/tmp" "$work/static/root/home/nonroot"
cp "$work/rootfs/etc/ssl/certs/ca-certificates.crt" "$work/static/root/etc/ssl/certs/"
chmod 1777 "$work/static/root/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$work/static/root/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' >"$work/static/root/etc/group"
chown 65532:65532 "$work/static/root/home/nonroot"
cat >"$work/static/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY root/ /
USER 65532:65532
WORKDIR /home/nonroot
DOCKERFILE
docker build -q -t "$prefix/static:nonroot" "$work/static"

step "done; to run compose.yaml with them:"
cat <<VARS
export POSTGRES_IMAGE=$prefix/postgres:15 GO_IMAGE=$prefix/golang:1.26 RUNTIME_IMAGE=$prefix/static:nonroot DOCKER_BUILDKIT=0
docker compose up --build -d    # Compose v2: v1 (docker-compose 1.x) rejects the file's top-level name
scripts/compose-smoke.sh
VARS
