# Small static image of mailprobe_exporter that runs as nobody.
#
#   docker build --build-arg VERSION=1.0.0 --build-arg REVISION=$(git rev-parse HEAD) \
#     -t mailprobe_exporter .
#   docker run -p 9893:9893 \
#     -v "$PWD/config.yml:/etc/mailprobe/config.yml:ro" mailprobe_exporter
#
# The image holds the binary, the CA roots (for verifying MX certificates)
# and passwd/group entries for the unprivileged user; nothing else.

FROM golang:1.26 AS build

WORKDIR /src

COPY go.mod go.sum ./
RUN go mod download

COPY . .

ARG VERSION=dev
ARG REVISION=unknown
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w \
        -X github.com/prometheus/common/version.Version=${VERSION} \
        -X github.com/prometheus/common/version.Revision=${REVISION}" \
      -o /out/mailprobe_exporter . \
 && printf 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' > /out/passwd \
 && printf 'nogroup:x:65534:\n' > /out/group

FROM scratch

COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/passwd /etc/passwd
COPY --from=build /out/group /etc/group
COPY --from=build /out/mailprobe_exporter /mailprobe_exporter

USER 65534:65534
EXPOSE 9893

ENTRYPOINT ["/mailprobe_exporter"]
# The exporter listens on loopback by default; in a container that port
# could not be published, so the image listens on every interface.
CMD ["--config.file=/etc/mailprobe/config.yml", "--web.listen-address=:9893"]
