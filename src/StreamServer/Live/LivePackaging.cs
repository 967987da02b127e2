using StreamServer.Transcode.Live;
using StreamServer.Vod;

namespace StreamServer.Live;

/// <summary>
/// Opens the packager of a channel's stream (RTMP publish or test channel) in the channel's window folder, and keeps
/// the served-file cache in step with it: a new stream drops everything cached for the channel, every published
/// segment drops the playlists it replaced. The window folder is the server's own scratch space (tmpfs by default): it
/// is emptied at start and removed at shutdown.
/// </summary>
internal sealed class LivePackaging(Hosting.StreamServerOptions options, BufferPool.MemfdBufferPool pool, VodFileCache files) : IDisposable
{
    private readonly Lock _gate = new();
    private bool _created;

    public string Root { get; } = LiveOptions.ResolveDirectory(options);

    public LiveRemuxer Open(LiveChannel channel, LiveStreamInfo info)
    {
        var prefix = VodPath.LiveRoot + "/" + channel.Name + "/";
        var playlists = new string[LiveRemuxer.PlaylistFiles.Length];
        for (var i = 0; i < playlists.Length; i++)
        {
            playlists[i] = prefix + LiveRemuxer.PlaylistFiles[i];
        }

        files.InvalidatePrefix(prefix);
        lock (_gate)
        {
            if (!_created)
            {
                DeleteRoot(); // what a previous run (killed before its shutdown) left behind
                _created = true;
            }

            Directory.CreateDirectory(Root);
        }

        channel.Reload.Reset();
        var live = options.Live;
        return new LiveRemuxer(Path.Combine(Root, channel.Name), info, pool, live.SegmentSeconds, live.WindowSegments, live.PartSeconds, position =>
        {
            foreach (var playlist in playlists)
            {
                files.Invalidate(playlist);
            }

            channel.Reload.Publish(position); // after the cache dropped the old playlists: a released waiter reads the new one
        });
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_created)
            {
                DeleteRoot();
            }
        }
    }

    private void DeleteRoot()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
