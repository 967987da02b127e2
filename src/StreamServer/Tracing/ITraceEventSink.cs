namespace StreamServer.Tracing;

/// <summary>Receives ring-buffer records on the poll thread; implementations must be quick and never throw.</summary>
internal interface ITraceEventSink
{
    void OnRetransmit(in RetransmitRecord record);

    void OnSendStall(in SendStallRecord record);
}
