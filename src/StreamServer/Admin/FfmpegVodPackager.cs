using StreamServer.Hosting;
using StreamServer.Transcode;

namespace StreamServer.Admin;

/// <summary>The in-process FFmpeg packager with the configured defaults.</summary>
internal sealed class FfmpegVodPackager(StreamServerOptions options) : IVodPackager
{
    public Task PackageAsync(string source, string outDir, IProgress<PackagingProgress> progress, CancellationToken ct)
    {
        _ = options;
        _ = source;
        _ = outDir;
        _ = progress;
        _ = ct;
        // Wired to Transcode.Packager when the transcoder lands.
        throw new NotSupportedException("the packager is not available in this build");
    }
}
