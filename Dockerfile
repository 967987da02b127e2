# StreamServer on Debian 12 with the .NET 10 SDK. Installs the same apt packages as run.sh / test.sh
# (packages.txt is the one list), builds the native parts and the solution, serves on 8080 / 8443.
# eBPF tracers need the container to run with CAP_BPF + CAP_PERFMON (or --privileged) and the host's
# /sys/kernel/btf and tracefs; without them the server runs and /healthz says why tracers are off.
FROM mcr.microsoft.com/dotnet/sdk:10.0-bookworm-slim AS build
WORKDIR /src
COPY packages.txt ./
RUN apt-get update \
 && grep -v '^#' packages.txt | xargs apt-get install -y --no-install-recommends nodejs npm \
 && rm -rf /var/lib/apt/lists/*
COPY . .
RUN ./scripts/setup.sh \
 && dotnet publish src/StreamServer -c Release -o /app --no-build

FROM mcr.microsoft.com/dotnet/aspnet:10.0-bookworm-slim
# Runtime needs the shared libraries and tools the server calls: FFmpeg, libx264, libjpeg (JPEGs, in the shim),
# libbpf, ffmpeg CLI (sample clip).
COPY packages.txt /tmp/packages.txt
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg libavformat59 libavcodec59 libavutil57 libswscale6 libswresample4 libavfilter8 \
      libjpeg62-turbo libbpf1 bpftool ca-certificates \
 && rm -rf /var/lib/apt/lists/* /tmp/packages.txt
WORKDIR /app
COPY --from=build /app ./
COPY --from=build /src/bpf/.output/*.bpf.o ./bpf/
ENV StreamServer__DataDir=/data
# `docker stop` sends SIGTERM and kills after 10 s: let responses in flight drain for 8 of them (raise both together).
ENV StreamServer__ShutdownTimeoutSeconds=8
VOLUME /data
EXPOSE 8080 8443 1935
ENTRYPOINT ["dotnet", "StreamServer.dll"]
