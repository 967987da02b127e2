namespace StreamServer.Transcode.Packaging;

/// <summary>
/// Atomic publish: output is written into a hidden sibling <c>.staging-&lt;name&gt;-&lt;random&gt;</c> (same
/// filesystem, dot-prefixed so the server never serves it) and renamed to the target only when complete.
/// A killed process leaves just the dot-prefixed folder; <see cref="SweepStale"/> removes those at start-up.
/// </summary>
public sealed class StagingFolder : IDisposable
{
    public const string Prefix = ".staging-";
    private bool published;

    private StagingFolder(string target, string path)
    {
        Target = target;
        Path = path;
    }

    public string Target { get; }
    public string Path { get; }

    /// <summary>Creates the staging folder next to <paramref name="target"/>; refuses an existing non-empty target unless <paramref name="overwrite"/>.</summary>
    public static StagingFolder Create(string target, bool overwrite)
    {
        var full = System.IO.Path.GetFullPath(target).TrimEnd('/');
        var name = System.IO.Path.GetFileName(full);
        var parent = System.IO.Path.GetDirectoryName(full);
        if (string.IsNullOrEmpty(name) || string.IsNullOrEmpty(parent))
        {
            throw new TranscodeException($"output folder must not be the filesystem root: {target}");
        }

        if (File.Exists(full))
        {
            throw new TranscodeException($"output path is a file: {target}");
        }

        if (!overwrite && Directory.Exists(full) && Directory.EnumerateFileSystemEntries(full).Any())
        {
            throw new TranscodeException($"output folder already exists and is not empty: {target}");
        }

        Directory.CreateDirectory(parent);
        var path = System.IO.Path.Combine(parent, $"{Prefix}{name}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return new StagingFolder(full, path);
    }

    /// <summary>Renames the staging folder to the target (replacing an existing one by a second rename, then deleting it).</summary>
    public void Publish()
    {
        string? replaced = null;
        if (Directory.Exists(Target))
        {
            if (!Directory.EnumerateFileSystemEntries(Target).Any())
            {
                Directory.Delete(Target);
            }
            else
            {
                replaced = Retire(Target);
            }
        }

        Directory.Move(Path, Target);
        published = true;
        if (replaced is not null)
        {
            TryDelete(replaced);
        }
    }

    /// <summary>Deletes every <c>.staging-*</c> folder in <paramref name="parent"/> older than <paramref name="olderThan"/> (left by a killed process).</summary>
    public static int SweepStale(string parent, TimeSpan olderThan)
    {
        if (!Directory.Exists(parent))
        {
            return 0;
        }

        var removed = 0;
        var cutoff = DateTime.UtcNow - olderThan;
        foreach (var dir in Directory.EnumerateDirectories(parent, Prefix + "*"))
        {
            if (Directory.GetLastWriteTimeUtc(dir) <= cutoff && TryDelete(dir))
            {
                removed++;
            }
        }

        return removed;
    }

    /// <summary>Removes the staging folder unless it was published (failure or cancellation path).</summary>
    public void Dispose()
    {
        if (!published)
        {
            TryDelete(Path);
        }
    }

    /// <summary>
    /// Takes a published folder out of service at once and as a whole: renames it to a dot-prefixed sibling
    /// (never served; swept at start-up if the process dies before deleting it) and returns that path for
    /// <see cref="TryDelete"/>. Null when the folder does not exist (e.g. a concurrent retire won).
    /// </summary>
    public static string? Retire(string folder)
    {
        var full = System.IO.Path.GetFullPath(folder).TrimEnd('/');
        var retired = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(full)!, $"{Prefix}old-{System.IO.Path.GetFileName(full)}-{Guid.NewGuid():N}");
        try
        {
            Directory.Move(full, retired);
            return retired;
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Deletes a folder recursively; false when it could not be removed (a leftover is dot-prefixed, so never served).</summary>
    public static bool TryDelete(string dir)
    {
        try
        {
            Directory.Delete(dir, recursive: true);
            return true;
        }
        catch (DirectoryNotFoundException)
        {
            return true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
