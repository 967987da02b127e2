using System.Net;
using System.Net.Sockets;
using StreamServer.Tests.Infrastructure;
using StreamServer.Tracing;

namespace StreamServer.Tests.Tracing;

/// <summary>
/// skb allocation counts against /proc/slabinfo. Datagrams sent to a socket that never reads stay queued,
/// so each one keeps its skb (skbuff_head_cache) and small data head (skbuff_small_head) alive: the
/// caches' active objects grow by what the tracer counted. Tolerance: 5% + 512 objects, because SLUB
/// counts objects per slab (per-CPU and partial slabs count as fully active) and the rest of the machine
/// keeps allocating and freeing skbs meanwhile.
/// </summary>
[Collection(ServerTestsCollection.Name)]
public partial class SkbAllocationTracerTests
{
    private const int Datagrams = 20_000;

    [Fact]
    public async Task SkbAllocationsMatchSlabinfoGrowth()
    {
        var missing = TracingEnvironment.MissingBpf(out var objects);
        Assert.SkipWhen(missing is not null, missing ?? "");
        Assert.SkipWhen(TracingEnvironment.SlabActiveObjects("skbuff_head_cache") is null, "skbuff_head_cache is merged into another cache here (no slabinfo row)");

        // This thread only: other tests in the process may be serving traffic meanwhile. The loop below is
        // synchronous, so it stays on this thread.
        using var tracer = KernelTracers.Start(new TracerConfig
        {
            ObjectDirectory = objects,
            TargetTgid = Environment.ProcessId,
            TargetThread = gettid(),
            Retransmits = false,
            SendLatency = false,
        });
        using var receiver = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        // SO_RCVBUFFORCE (root): room for every datagram, so none is dropped (and freed) on arrival.
        receiver.SetRawSocketOption(1, 33, BitConverter.GetBytes(512 * 1024 * 1024));
        receiver.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        var payload = new byte[100];
        var target = receiver.LocalEndPoint!;

        var headBefore = TracingEnvironment.SlabActiveObjects("skbuff_head_cache")!.Value;
        var smallBefore = TracingEnvironment.SlabActiveObjects("skbuff_small_head") ?? 0;
        var before = tracer.Snapshot();
        for (var i = 0; i < Datagrams; i++)
        {
            sender.SendTo(payload, target);
        }

        var after = tracer.Snapshot();
        var headAfter = TracingEnvironment.SlabActiveObjects("skbuff_head_cache")!.Value;
        var smallAfter = TracingEnvironment.SlabActiveObjects("skbuff_small_head") ?? 0;
        var queued = receiver.Available;

        var tracedHead = (long)(after.SkbAllocsTarget(0) - before.SkbAllocsTarget(0));
        var tracedSmall = (long)(after.SkbAllocsTarget(2) - before.SkbAllocsTarget(2));
        var report = $"sent {Datagrams} datagrams ({queued} bytes queued); skbuff_head_cache: tracer +{tracedHead}, slabinfo +{headAfter - headBefore}; " +
            $"skbuff_small_head: tracer +{tracedSmall}, slabinfo +{smallAfter - smallBefore}";
        TestContext.Current.TestOutputHelper?.WriteLine(report);

        // Every datagram is one skb from this thread.
        Assert.InRange(tracedHead, Datagrams, Datagrams + (Datagrams / 20));
        Assert.True(Math.Abs(tracedHead - (headAfter - headBefore)) <= (Datagrams / 20) + 512, report);
        if (tracedSmall > 0)
        {
            Assert.True(Math.Abs(tracedSmall - (smallAfter - smallBefore)) <= (Datagrams / 20) + 512, report);
        }

        await Task.CompletedTask;
    }

    [System.Runtime.InteropServices.LibraryImport("libc")]
    private static partial int gettid();
}
