using StreamServer.Hosting;
using StreamServer.Transport;

namespace StreamServer.Vod;

/// <summary>
/// Decides whether an HTTP/2 body is read into the response pipe whole, without flushes. Kestrel's HTTP/2 stream
/// pipe pauses its writer at 1 byte, so every flush with data waits for the connection's frame writer, and each
/// wait allocates its task state (~0.4 KB); a body written whole and left for Kestrel to send after the request
/// completes never waits. The price is the body's bytes held in pooled memory until sent, so it is bounded per
/// body and in total: only while the transport pool lends out less than the budget.
/// </summary>
internal sealed class WholeBodyGate
{
    private readonly long _maxBodyBytes;
    private readonly long _budgetBytes;
    private readonly TransportMemoryAccounting _accounting;

    public WholeBodyGate(HttpServingOptions serving, TransportMemoryAccounting accounting)
    {
        // Without our pool nothing counts the memory in flight, so there is no budget to hold.
        _maxBodyBytes = serving.TransportBlockBytes > 0 ? serving.Http2WholeBodyBytes : 0;
        _budgetBytes = serving.Http2WholeBodyBudgetMegabytes * 1024L * 1024;
        _accounting = accounting;
        BlockBytes = Math.Max(serving.TransportBlockBytes, 4096);
    }

    /// <summary>The transport pool's block size: the largest piece the body writer asks the pipe for.</summary>
    public int BlockBytes { get; }

    public bool Allows(long bodyBytes) => bodyBytes <= _maxBodyBytes && _accounting.RentedBytes + bodyBytes <= _budgetBytes;
}
