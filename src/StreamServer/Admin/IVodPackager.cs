using StreamServer.Transcode;

namespace StreamServer.Admin;

/// <summary>The job queue's view of the transcoder: package a source into a published folder, atomically.</summary>
public interface IVodPackager
{
    Task PackageAsync(string source, string outDir, IProgress<PackagingProgress> progress, CancellationToken ct);
}
