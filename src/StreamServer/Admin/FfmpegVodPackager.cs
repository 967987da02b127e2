using StreamServer.BufferPool;
using StreamServer.Hosting;
using StreamServer.Transcode;
using StreamServer.Transcode.Media;
using StreamServer.Transcode.Packaging;
using StreamServer.Transcode.Thumbnails;

namespace StreamServer.Admin;

/// <summary>
/// The in-process FFmpeg packager with the configured ladder, preset and segment length; whatever is not
/// configured keeps PackagingOptions' defaults (the one place they are defined).
/// </summary>
internal sealed class FfmpegVodPackager(StreamServerOptions options, MemfdBufferPool pool, IFrameMemory frameMemory) : IVodPackager
{
    private readonly PackagingOptions _configured = BufferPoolSetup.ForPackaging(options.Packaging.ToPackagingOptions(), pool, frameMemory);

    public async Task PackageAsync(string source, string outDir, IProgress<PackagingProgress> progress, CancellationToken ct)
    {
        using var images = new VodImageSink(options.Thumbnails.ToVodImageOptions()); // poster, sprites, VTT in the same decode pass
        await Packager.PackageAsync(source, outDir, _configured with { FrameSinks = [images] }, progress, ct);
    }
}
