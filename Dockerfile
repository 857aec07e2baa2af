# switchboard's image, on Debian 12 like the machines it is built and tested on.
#   docker build -t switchboard .
#   docker run --rm -p 5050:5050 --env-file .env -v switchboard-recordings:/var/lib/switchboard/recordings switchboard
# The build stage installs with scripts/setup and builds with scripts/build, so the image and a
# developer's machine share one list of packages. The runtime stage holds the binary and the
# shared libraries it links (tests/k8s maps each library `ldd` lists to a package below).

FROM debian:12 AS build
WORKDIR /src
# The package lists first, so that a source change does not reinstall the toolchain.
COPY scripts/setup scripts/setup
COPY tests/web/package.json tests/web/package-lock.json tests/web/
COPY tests/k8s/package.json tests/k8s/package-lock.json tests/k8s/
COPY tests/realtime/package.json tests/realtime/package-lock.json tests/realtime/
COPY tests/s3/package.json tests/s3/package-lock.json tests/s3/
RUN scripts/setup
COPY . .
# Only the executable: no test binaries, no fuzzers. Debug sections stay out of the image.
RUN rm -rf build \
    && scripts/build switchboard \
    && strip --strip-debug -o /switchboard build/switchboard

FROM debian:12-slim
# The shared libraries of `ldd build/switchboard`, by package (libcurl4: the object storage
# client of RECORDINGS_BUCKET_URL); ca-certificates for the TLS connections to OpenAI, Twilio and
# the bucket.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
       ca-certificates \
       libboost-json1.81.0 \
       libboost-url1.81.0 \
       libc6 \
       libcaf-core0.17 \
       libcaf-io0.17 \
       libcaf-openssl0.17 \
       libcurl4 \
       libfmt9 \
       libgcc-s1 \
       libprometheus-cpp-core1.0 \
       libspdlog1.10 \
       libssl3 \
       libstdc++6 \
    && rm -rf /var/lib/apt/lists/*
# A system user with a fixed id (the Kubernetes manifests run as 10001 and give it the
# recordings volume through fsGroup). Its only writable places: the recordings and /tmp.
RUN groupadd --system --gid 10001 switchboard \
    && useradd --system --uid 10001 --gid switchboard --home-dir /var/lib/switchboard \
       --shell /usr/sbin/nologin switchboard \
    && mkdir -p /var/lib/switchboard/recordings \
    && chown switchboard:switchboard /var/lib/switchboard/recordings
COPY --from=build /switchboard /usr/local/bin/switchboard
ENV RECORDINGS_DIR=/var/lib/switchboard/recordings
VOLUME ["/var/lib/switchboard/recordings"]
WORKDIR /var/lib/switchboard
USER 10001:10001
# PORT (webhooks, media streams, API, console) and METRICS_PORT when set (metrics and probes).
EXPOSE 5050 9090
ENTRYPOINT ["/usr/local/bin/switchboard"]
CMD ["serve"]
