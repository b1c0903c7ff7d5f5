# The pegasus image: one static binary for every role (meta, replica,
# collector, redis-proxy, etcd, shell), run as a non-root user.
#
#   docker build --build-arg COMMIT=$(git rev-parse HEAD) -t pegasus .
#
# The build stage runs scripts/build-static.sh, which CI also runs.

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG COMMIT=unknown
ARG BUILD_TIME=unknown
RUN scripts/build-static.sh /out/pegasus "$COMMIT" "$BUILD_TIME"

# busybox: a shell, awk and grep for the Kubernetes drain and readiness
# scripts, nothing else.
FROM busybox:1.36-musl
COPY --from=build /out/pegasus /usr/local/bin/pegasus
COPY deploy/kubernetes/scripts/drain.sh deploy/kubernetes/scripts/ready.sh /usr/local/lib/pegasus/
USER 65532:65532
WORKDIR /var/lib/pegasus
VOLUME /var/lib/pegasus
# meta gRPC/HTTP/Pegasus, replica gRPC/HTTP/Pegasus, collector, etcd
EXPOSE 34601 34611 34621 34801 34811 34821 34101 2379 2380
ENTRYPOINT ["/usr/local/bin/pegasus"]
CMD ["--help"]
