using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection.Extensions;
using StreamServer.Hosting;

namespace StreamServer.Transport;

/// <summary>Kestrel's socket transport on <see cref="TransportMemoryPool"/>s and its write buffer limit (one call from KestrelSetup).</summary>
internal static class TransportMemorySetup
{
    public static void UseTransportMemory(this WebApplicationBuilder builder, HttpServingOptions serving)
    {
        var accounting = new TransportMemoryAccounting(serving);
        builder.Services.AddSingleton(_ => accounting); // factory-made: the container disposes it (its meter) with the host
        builder.Services.AddSingleton(new Vod.WholeBodyGate(serving, accounting));
        if (serving.TransportBlockBytes > 0)
        {
            // The socket transport takes its pools from the IMemoryPoolFactory<byte> service (UseSockets wires
            // SocketTransportOptions.MemoryPoolFactory, whose setter is internal, to it); Kestrel registers its
            // own 4 KiB PinnedBlockMemoryPool factory there, which this replaces.
            builder.Services.RemoveAll<IMemoryPoolFactory<byte>>();
            builder.Services.AddSingleton<IMemoryPoolFactory<byte>>(new TransportMemoryPoolFactory(serving.TransportBlockBytes, accounting));
        }

        builder.WebHost.UseSockets(sockets => sockets.MaxWriteBufferSize = serving.MaxWriteBufferBytes);
    }
}
