namespace StreamServer.Transport;

/// <summary>
/// Decides whether an HTTP/2 body is read into the response pipe whole, without flushes. Kestrel's HTTP/2 stream
/// pipe pauses its writer at 1 byte, so every flush with data waits for the connection's frame writer, and each
/// wait allocates its task state (~0.4 KB); a body written whole and left for Kestrel to send after the request
/// completes never waits. The price is the body's bytes held in pooled memory until sent, so it is bounded per
/// body, per connection and in total: only while the connection and the transport pool hold less than their budgets.
/// </summary>
internal sealed class WholeBodyGate : IWholeBodyGate
{
    private readonly long _maxBodyBytes;
    private readonly long _budgetBytes;
    private readonly TransportMemoryAccounting _accounting;

    public WholeBodyGate(TransportOptions serving, TransportMemoryAccounting accounting)
    {
        // Without our pool nothing counts the memory in flight, so there is no budget to hold.
        _maxBodyBytes = serving.BlockBytes > 0 ? serving.Http2WholeBodyBytes : 0;
        _budgetBytes = serving.Http2WholeBodyBudgetMegabytes * 1024L * 1024;
        _accounting = accounting;
        BlockBytes = Math.Max(serving.BlockBytes, 4096);
        SendTimeout = TimeSpan.FromSeconds(serving.SendTimeoutSeconds);
    }

    public int BlockBytes { get; }

    public TimeSpan SendTimeout { get; }

    public bool Allows(long bodyBytes, ConnectionTransportMemory? connection) =>
        connection is not null
        && bodyBytes <= _maxBodyBytes
        && _accounting.RentedBytes + bodyBytes <= _budgetBytes
        && connection.RentedBytes + bodyBytes <= connection.BudgetBytes;

    // Unless the connection holds next to nothing: one client's stall never starves another of its first chunk.
    public bool HasRoom(long chunkBytes, ConnectionTransportMemory? connection)
    {
        if (connection is null)
        {
            return true;
        }

        var held = connection.RentedBytes;
        return held + chunkBytes <= connection.BudgetBytes
            && (_accounting.RentedBytes + chunkBytes <= _budgetBytes || held <= 2L * BlockBytes);
    }
}
