using System.Runtime.InteropServices;
using StreamServer.Hosting;
using StreamServer.Interop;

namespace StreamServer.Admin;

/// <summary>
/// Which sources a POST /api/vod may name: files whose real path (symlinks resolved) lies inside an
/// import root or the uploads folder, and http(s) URLs when allowed (internal addresses refused here when written as
/// literals, and by <see cref="UrlSourceDownloader"/> on every address it connects to).
/// </summary>
public sealed partial class SourcePolicy
{
    internal const string NotImportable = "source is not a file inside the allowed import folders (StreamServer:ImportRoots or the uploads folder)";

    private readonly List<string> _roots = [];
    private readonly bool _allowUrls;

    private readonly UrlSourceDownloader _downloader;

    public SourcePolicy(StreamServerOptions options, VodLibrary library, UrlSourceDownloader downloader)
    {
        _allowUrls = options.AllowUrlSources;
        _downloader = downloader;
        foreach (var root in options.ImportRoots)
        {
            if (Libc.RealPath(root) is { } real)
            {
                _roots.Add(real);
            }
        }

        if (Libc.RealPath(library.UploadsDir) is { } uploads)
        {
            _roots.Add(uploads);
        }
    }

    /// <summary>Returns the source to hand to the packager, or null with a one-line reason and HTTP status.</summary>
    public string? Check(string source, out int status, out string reason)
    {
        status = 200;
        reason = "";
        if (Uri.TryCreate(source, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
        {
            if (_allowUrls)
            {
                if (_downloader.RefusalOf(uri) is { } refusal)
                {
                    (status, reason) = (403, refusal);
                    return null;
                }

                return uri.AbsoluteUri;
            }

            (status, reason) = (403, "URL sources are disabled (StreamServer:AllowUrlSources)");
            return null;
        }

        if (!Path.IsPathFullyQualified(source))
        {
            (status, reason) = (400, "source must be an absolute path or an http(s) URL");
            return null;
        }

        var real = Libc.RealPath(source);
        if (real is not null && File.Exists(real))
        {
            foreach (var root in _roots)
            {
                if (Libc.IsWithin(real, root))
                {
                    return real;
                }
            }
        }

        // One answer for "missing" and "exists but outside", without the path: the API must not tell an admin-token
        // holder which files exist elsewhere on the server, nor echo server paths.
        (status, reason) = (403, NotImportable);
        return null;
    }
}
