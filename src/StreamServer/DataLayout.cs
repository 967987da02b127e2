namespace StreamServer;

/// <summary>
/// Where things live on disk, computed once from DataDir and Live:WindowDirectory: the library (vod/), uploads, the TLS
/// certificate, the admin token, and the live windows. Every layer that needs a folder takes it from here.
/// </summary>
public sealed class DataLayout
{
    /// <param name="dataDir">StreamServer:DataDir (relative to the working directory).</param>
    /// <param name="liveWindowDirectory">StreamServer:Live:WindowDirectory; empty = on tmpfs (see <see cref="LiveWindows"/>).</param>
    public DataLayout(string dataDir, string liveWindowDirectory = "")
    {
        DataDir = Path.GetFullPath(dataDir);
        Vod = Path.Combine(DataDir, "vod");
        Uploads = Path.Combine(DataDir, "uploads");
        Jobs = Path.Combine(DataDir, "jobs");
        Tls = Path.Combine(DataDir, "tls");
        AdminTokenFile = Path.Combine(DataDir, "admin-token");
        LiveWindows = ResolveLiveWindows(DataDir, liveWindowDirectory);
    }

    public string DataDir { get; }

    /// <summary>The published library: vod/{id}/ holds one finished VOD; staging folders beside them are dot-prefixed.</summary>
    public string Vod { get; }

    /// <summary>Uploaded and downloaded sources waiting for their packaging job.</summary>
    public string Uploads { get; }

    /// <summary>The journal of unfinished packaging jobs (one file each), read at start to recover from a crash.</summary>
    public string Jobs { get; }

    /// <summary>The generated self-signed certificate (when no PFX is configured).</summary>
    public string Tls { get; }

    /// <summary>The generated admin token (mode 0600).</summary>
    public string AdminTokenFile { get; }

    /// <summary>
    /// The live windows (segments, playlists): the configured folder, else one on tmpfs (/dev/shm, so live segments never
    /// touch a disk) named after DataDir, or DataDir/live where there is no /dev/shm.
    /// </summary>
    public string LiveWindows { get; }

    private static string ResolveLiveWindows(string dataDir, string configured)
    {
        if (configured.Length > 0)
        {
            return Path.GetFullPath(configured);
        }

        const string Tmpfs = "/dev/shm";
        if (!Directory.Exists(Tmpfs))
        {
            return Path.Combine(dataDir, "live");
        }

        // One folder per DataDir: two servers on one machine do not share windows, and a restart finds its own again.
        var hash = System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(dataDir));
        return Path.Combine(Tmpfs, "streamserver-live-" + Convert.ToHexStringLower(hash.AsSpan(0, 6)));
    }
}
