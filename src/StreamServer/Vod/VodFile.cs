using System.Globalization;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace StreamServer.Vod;

/// <summary>
/// One published file as the hot path needs it: an open descriptor, its identity, and every header
/// value precomputed (as strings for Kestrel and as bytes for the raw HTTP/1.1 path), so serving it
/// does no stat, no formatting and no allocation. Small files also keep their bytes. A live playlist is one
/// version of its text held in memory only (<see cref="FromText"/>): no descriptor, its version in place of an inode.
/// </summary>
internal sealed class VodFile : IDisposable
{
    public const string CacheControl = "public, max-age=31536000, immutable";
    public const string LivePlaylistCacheControl = "public, max-age=1";
    public const string ExposeHeaders = "Content-Length, Content-Range, ETag, Last-Modified, Accept-Ranges";

    private VodFile(string requestPath, SafeFileHandle? handle, FileIdentity identity, string contentType, VodKind kind, NativeBody? smallBody, string cacheControl)
    {
        CacheControlValue = cacheControl;
        RequestPath = requestPath;
        Handle = handle;
        Identity = identity;
        ContentType = contentType;
        Kind = kind;
        SmallBody = smallBody;
        LastModifiedUtc = DateTime.UnixEpoch.AddSeconds(identity.MtimeSeconds);
        ETag = string.Create(CultureInfo.InvariantCulture, $"\"{identity.Inode:x}-{identity.Size:x}-{identity.MtimeSeconds:x}{identity.MtimeNanoseconds:x8}\"");
        ETagBytes = Encoding.ASCII.GetBytes(ETag);
        LastModified = LastModifiedUtc.ToString("R", CultureInfo.InvariantCulture);
        LastModifiedBytes = Encoding.ASCII.GetBytes(LastModified);
        CommonHeaderBytes = Encoding.ASCII.GetBytes(
            $"Content-Type: {contentType}\r\nAccept-Ranges: bytes\r\nETag: {ETag}\r\nLast-Modified: {LastModified}\r\n" +
            $"Cache-Control: {cacheControl}\r\nAccess-Control-Allow-Origin: *\r\nAccess-Control-Expose-Headers: {ExposeHeaders}\r\n");
        ValidatedAt = Environment.TickCount64;
    }

    /// <summary>The key ("vod/id/rel", "live/channel/rel") the file was requested by; re-stat'ed to validate.</summary>
    public string RequestPath { get; }

    /// <summary>The open file; null for a text held in memory only, which always has its <see cref="SmallBody"/>.</summary>
    public SafeFileHandle? Handle { get; }
    public FileIdentity Identity { get; }
    public long Length => Identity.Size;
    public string ContentType { get; }
    public VodKind Kind { get; }

    /// <summary>Whole content for small files (playlists, MPDs, small segments), sent from memory by a gathered write.</summary>
    public NativeBody? SmallBody { get; }

    public DateTime LastModifiedUtc { get; }
    public string ETag { get; }
    public byte[] ETagBytes { get; }
    public string LastModified { get; }
    public byte[] LastModifiedBytes { get; }

    /// <summary>Every header that is the same for every response of this file, ready to copy.</summary>
    public byte[] CommonHeaderBytes { get; }

    public long ValidatedAt { get; set; }

    /// <summary>Immutable for library files and live segments, a second for live playlists.</summary>
    public string CacheControlValue { get; }

    public static VodFile? Open(string requestPath, string resolvedPath, string contentType, VodKind kind, int smallBodyBytes, string cacheControl)
    {
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(resolvedPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        if (!LibcFile.TryStat(handle, out var identity) || !identity.IsRegularFile)
        {
            handle.Dispose();
            return null;
        }

        NativeBody? small = null;
        if (identity.Size <= smallBodyBytes)
        {
            small = NativeBody.Read(handle, (int)identity.Size);
            if (small is null)
            {
                // Shrunk under us: not a published (immutable) file; do not serve a torn copy.
                handle.Dispose();
                return null;
            }
        }

        return new VodFile(requestPath, handle, identity, contentType, kind, small, cacheControl);
    }

    /// <summary>
    /// <paramref name="text"/> served under <paramref name="requestPath"/> (a live playlist version): the ETag names
    /// <paramref name="version"/>, so every version has its own, and Last-Modified is now.
    /// </summary>
    public static VodFile FromText(string requestPath, StringBuilder text, string contentType, VodKind kind, string cacheControl, ulong version)
    {
        var body = NativeBody.Encode(text);
        var now = DateTimeOffset.UtcNow;
        var identity = new FileIdentity(0, version, body.Length, now.ToUnixTimeSeconds(), (uint)(now.Ticks % TimeSpan.TicksPerSecond * 100), IsRegularFile: true);
        return new VodFile(requestPath, null, identity, contentType, kind, body, cacheControl);
    }

    /// <summary>Takes a lease on the descriptor; false when the cache already closed it (then look up again).</summary>
    public bool TryAcquire()
    {
        var added = false;
        if (Handle is { } handle)
        {
            try
            {
                handle.DangerousAddRef(ref added);
            }
            catch (ObjectDisposedException)
            {
                return false;
            }

            if (!added)
            {
                return false;
            }
        }

        if (SmallBody is { } body)
        {
            // The cache may have dropped the file between the two references: give the first back and look up again.
            try
            {
                var bodyAdded = false;
                body.DangerousAddRef(ref bodyAdded);
            }
            catch (ObjectDisposedException)
            {
                Handle?.DangerousRelease();
                return false;
            }
        }

        Interlocked.Increment(ref s_leases);
        return true;
    }

    public void Release()
    {
        Interlocked.Decrement(ref s_leases);
        SmallBody?.DangerousRelease();
        Handle?.DangerousRelease();
    }

    private static long s_leases;

    /// <summary>Leases held by requests in flight (must return to 0 when idle: the leak check).</summary>
    public static long ActiveLeases => Interlocked.Read(ref s_leases);

    /// <summary>Drops the cache's reference; the descriptor closes (and the body is freed) when the last lease is released.</summary>
    public void Dispose()
    {
        Handle?.Dispose();
        SmallBody?.Dispose();
    }
}
