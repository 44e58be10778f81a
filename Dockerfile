# acr-emulator container image, built from source: `docker compose up --build`, on machines
# that can pull the base images. Where none can be pulled, see Dockerfile.scratch (`make image`).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/acr-emulator ./cmd/acr-emulator

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/acr-emulator /usr/local/bin/acr-emulator
# Inside a container the listeners must face the container network; publish them on the host's
# loopback only (see docker-compose.yml).
ENV ACR_EMULATOR_HTTPS_ADDR=0.0.0.0:8443 \
    ACR_EMULATOR_HTTP_ADDR=0.0.0.0:8080 \
    ACR_EMULATOR_PROXY_ADDR=0.0.0.0:8081 \
    ACR_EMULATOR_DATA_DIR=/data
VOLUME /data
EXPOSE 8443 8080 8081
HEALTHCHECK --interval=5s --timeout=5s --start-period=5s --retries=12 CMD ["/usr/local/bin/acr-emulator", "health"]
ENTRYPOINT ["/usr/local/bin/acr-emulator"]
CMD ["serve"]
