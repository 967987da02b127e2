using System.Collections.Concurrent;
using StreamServer.Admin;
using StreamServer.Hosting;

namespace StreamServer.Live;

/// <summary>The channels this server knows (from configuration), looked up by name.</summary>
public sealed class LiveChannelRegistry
{
    private readonly ConcurrentDictionary<string, LiveChannel> _channels = new(StringComparer.Ordinal);

    public LiveChannelRegistry(StreamServerOptions options)
    {
        foreach (var c in options.Live.Channels)
        {
            if (!VodLibrary.IsValidId(c.Name) || string.IsNullOrEmpty(c.Key))
            {
                throw new InvalidOperationException($"StreamServer:Live:Channels: channel '{c.Name}' needs a valid name (A-Z a-z 0-9 _ -) and a key");
            }

            _channels[c.Name] = new LiveChannel(c.Name, c.Key, c.Mode);
        }
    }

    public LiveChannel? Find(string name) => _channels.TryGetValue(name, out var c) ? c : null;

    public IEnumerable<LiveChannel> All => _channels.Values;
}
