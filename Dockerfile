# acr-emulator container image: `docker compose up --build`.
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
    ACR_EMULATOR_DATA_DIR=/data
VOLUME /data
EXPOSE 8443 8080
ENTRYPOINT ["/usr/local/bin/acr-emulator"]
CMD ["serve"]
