using StreamServer.Transcode.Packaging;

namespace StreamServer.Admin;

/// <summary>
/// The published library: <c>DataDir/vod/{id}/</c> holds one finished VOD (master.m3u8, manifest.mpd, renditions).
/// Anything dot-prefixed there (staging folders) is never published and never served.
/// </summary>
public sealed class VodLibrary
{
    public VodLibrary(DataLayout layout)
    {
        Root = layout.Vod;
        UploadsDir = layout.Uploads;
        Directory.CreateDirectory(Root);
        Directory.CreateDirectory(UploadsDir);
    }

    public string Root { get; }

    /// <summary>Multipart uploads land here (streamed to a .part file, renamed when complete).</summary>
    public string UploadsDir { get; }

    public string PathOf(string id) => Path.Combine(Root, id);

    public bool IsPublished(string id) => File.Exists(Path.Combine(PathOf(id), "master.m3u8"));

    /// <summary>Raised when a published VOD has been removed (its folder no longer serves), with its id: caches of data derived from it drop it.</summary>
    public event Action<string>? Deleted;

    /// <summary>
    /// Removes a published VOD: its folder is first renamed to a dot-prefixed name, so it stops serving at once and
    /// as a whole, then deleted. False when <paramref name="id"/> is not a published VOD.
    /// </summary>
    public bool Delete(string id)
    {
        if (!IsValidId(id) || !IsPublished(id))
        {
            return false;
        }

        var retired = StagingFolder.Retire(PathOf(id));
        if (retired is null)
        {
            return false; // a concurrent DELETE won
        }

        Deleted?.Invoke(id);

        // A VOD is hundreds of files and the caller may be running on a socket thread (inline completions):
        // the folder already stopped serving with the rename, so the recursive delete need not hold the request.
        _ = Task.Run(() => StagingFolder.TryDelete(retired));
        return true;
    }

    public List<string> PublishedIds()
    {
        var ids = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories(Root))
        {
            var name = Path.GetFileName(dir);
            if (IsValidId(name) && IsPublished(name))
            {
                ids.Add(name);
            }
        }

        ids.Sort(StringComparer.Ordinal);
        return ids;
    }

    /// <summary>Ids are URL path segments and folder names: 1-64 of [A-Za-z0-9_-], not starting with '-'.</summary>
    public static bool IsValidId(string id)
    {
        if (id.Length is 0 or > 64 || id[0] == '-')
        {
            return false;
        }

        foreach (var c in id)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '-' && c != '_')
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>An id derived from a file name ("My Movie (1).mp4" -> "my-movie-1").</summary>
    public static string IdFromFileName(string fileName)
    {
        var stem = Path.GetFileNameWithoutExtension(fileName);
        var chars = new List<char>(Math.Min(stem.Length, 64));
        foreach (var c in stem)
        {
            if (chars.Count == 64)
            {
                break;
            }

            if (char.IsAsciiLetterOrDigit(c))
            {
                chars.Add(char.ToLowerInvariant(c));
            }
            else if (chars.Count > 0 && chars[^1] != '-')
            {
                chars.Add('-');
            }
        }

        while (chars.Count > 0 && chars[^1] == '-')
        {
            chars.RemoveAt(chars.Count - 1);
        }

        return chars.Count == 0 ? "vod-" + Guid.NewGuid().ToString("N")[..8] : new string([.. chars]);
    }
}
