namespace StreamServer.Ingest.Rtmp;

/// <summary>Where publishers connect (StreamServer:ListenAddress and StreamServer:RtmpPort); a negative port turns ingest off.</summary>
internal sealed record RtmpEndpoint(string Address, int Port)
{
    public bool Enabled => Port >= 0;
}
