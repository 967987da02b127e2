using System.Buffers;
using System.Buffers.Binary;
using StreamServer.Live;

namespace StreamServer.Ingest.Rtmp;

/// <summary>
/// The RTMP protocol over one <see cref="RtmpConnection"/>, driven by the ingest loop with whatever bytes arrived:
/// simple handshake, chunk stream, AMF0 connect / releaseStream / FCPublish / createStream / publish, then H.264 and
/// AAC in FLV tags, handed to the channel. The stream key is checked at publish; a wrong key, a busy channel or a
/// protocol violation ends the connection with one log line saying why (<see cref="RtmpIngestServer"/> catches and
/// calls <see cref="End"/>).
/// </summary>
internal sealed class RtmpSession(RtmpConnection connection, LiveChannelRegistry channels, LivePackaging packaging, ILogger log) : IDisposable
{
    private const int HandshakeBytes = 1536;
    private const int OutChunkSize = 4096;

    private Transcode.Live.ILiveIngest? _remuxer;
    private int _width;
    private double _frameRate;
    private int _height;

    private readonly RtmpChunkReader _chunks = new();
    private HandshakeState _handshake = HandshakeState.AwaitingC0C1;
    private LiveChannel? _channel;
    private string _app = "";
    private long _lastAck;
    private uint _ackWindow = 2_500_000;
    private int _outChunkSize = 128;

    private enum HandshakeState
    {
        AwaitingC0C1,
        AwaitingC2,
        Done,
    }

    /// <summary>
    /// Parses what the connection holds, consuming every whole chunk (a message completed by one is handled at
    /// once: the remux runs here, on the ingest loop, and never waits: parts and segments go to the window folder,
    /// tmpfs by default, with one write and a rename). False: the session is over (the loop closes the connection).
    /// </summary>
    public bool Process()
    {
        if (_handshake != HandshakeState.Done && !Handshake())
        {
            return true;
        }

        while (true)
        {
            // Chunks read without completing a message are consumed too: their bytes are in the reader's state now.
            var pending = connection.PendingSequence;
            var complete = _chunks.TryRead(pending, out var consumed, out var message);
            connection.Consume((int)pending.Slice(pending.Start, consumed).Length); // (GetOffset counts from the array's start)
            if (!complete)
            {
                break;
            }

            try
            {
                if (!Handle(message))
                {
                    return false;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(message.Buffer);
            }
        }

        Acknowledge();
        return true;
    }

    // C0 (version 3) + C1 (1536), answered with S0 + S1 + S2 (S2 echoes C1); then C2 is read and ignored. True once done.
    private bool Handshake()
    {
        var pending = connection.Pending;
        if (_handshake == HandshakeState.AwaitingC0C1)
        {
            if (pending.Length < 1 + HandshakeBytes)
            {
                return false;
            }

            if (pending[0] != 3)
            {
                throw new RtmpProtocolException($"handshake version {pending[0]} (RTMP is 3)");
            }

            var reply = new byte[1 + (2 * HandshakeBytes)];
            reply[0] = 3;
            Random.Shared.NextBytes(reply.AsSpan(9, HandshakeBytes - 8)); // S1: time 0, zero, random
            pending.Slice(1, HandshakeBytes).CopyTo(reply.AsSpan(1 + HandshakeBytes));
            connection.Send(reply);
            connection.Consume(1 + HandshakeBytes);
            _handshake = HandshakeState.AwaitingC2;
            pending = connection.Pending;
        }

        if (pending.Length < HandshakeBytes)
        {
            return false;
        }

        connection.Consume(HandshakeBytes);
        _handshake = HandshakeState.Done;
        return true;
    }

    /// <summary>Handles one message; false ends the session.</summary>
    private bool Handle(RtmpMessage message)
    {
        var payload = message.Payload;
        switch (message.TypeId)
        {
            case RtmpMessage.SetChunkSize:
                _chunks.SetChunkSize(BinaryPrimitives.ReadUInt32BigEndian(Need(payload, 4)) & 0x7fffffff);
                return true;
            case RtmpMessage.WindowAckSize:
                _ackWindow = Math.Max(1, BinaryPrimitives.ReadUInt32BigEndian(Need(payload, 4)));
                return true;
            case RtmpMessage.DataAmf0:
                Metadata(Amf0.ReadAll(payload));
                return true;
            case RtmpMessage.Abort or RtmpMessage.Acknowledgement or RtmpMessage.UserControl or RtmpMessage.SetPeerBandwidth:
                return true; // control messages that need no answer
            case RtmpMessage.CommandAmf0:
                return Command(Amf0.ReadAll(payload));
            case RtmpMessage.Video:
                Video(payload, message.Timestamp);
                return true;
            case RtmpMessage.Audio:
                Audio(payload, message.Timestamp);
                return true;
            default:
                return true; // other message types (shared objects, AMF3) carry nothing we use
        }
    }

    private bool Command(List<object?> values)
    {
        var name = values.Count > 0 ? values[0] as string : null;
        var transaction = values.Count > 1 && values[1] is double t ? t : 0;
        switch (name)
        {
            case "connect":
                _app = values.Count > 2 && values[2] is Dictionary<string, object?> props && props.TryGetValue("app", out var app) && app is string a ? a : "";
                Send(2, RtmpMessage.WindowAckSize, 0, BigEndian(5_000_000));
                Send(2, RtmpMessage.SetPeerBandwidth, 0, [.. BigEndian(5_000_000), 2]);
                Send(2, RtmpMessage.SetChunkSize, 0, BigEndian(OutChunkSize));
                _outChunkSize = OutChunkSize;
                Send(3, RtmpMessage.CommandAmf0, 0, new Amf0.Writer().String("_result").Number(transaction)
                    .Object(("fmsVer", "FMS/3,0,1,123"), ("capabilities", 31.0))
                    .Object(("level", "status"), ("code", "NetConnection.Connect.Success"), ("description", "Connection succeeded."), ("objectEncoding", 0.0))
                    .ToArray());
                return true;
            case "createStream":
                Send(3, RtmpMessage.CommandAmf0, 0, new Amf0.Writer().String("_result").Number(transaction).Null().Number(1).ToArray());
                return true;
            case "publish":
                return Publish(values.Count > 3 ? values[3] as string : null);
            case "FCUnpublish" or "deleteStream" or "closeStream":
                End(null);
                return false;
            default:
                return true; // releaseStream, FCPublish, _checkbw, ...: nothing to answer
        }
    }

    private bool Publish(string? streamName)
    {
        // OBS: server rtmp://host/live, key "cam1?key=..."; ffmpeg: rtmp://host/live/cam1?key=...
        var (channelName, key) = SplitStreamName(streamName ?? "");
        var channel = _app == "live" ? channels.Find(channelName) : null;
        string? refusal = channel is null ? $"RTMP publish to unknown channel '{channelName}' (app '{_app}')"
            : !KeyMatches(channel.Key, key) ? $"RTMP publish to channel '{channelName}' refused: wrong or missing stream key"
            : !channel.TryStartPublishing() ? $"RTMP publish to channel '{channelName}' refused: another publisher is live"
            : null;
        if (refusal is not null)
        {
            log.LogWarning("{Reason} (from {Remote})", refusal, connection.RemoteEndPoint);
            if (channel is not null && refusal.Contains("key", StringComparison.Ordinal))
            {
                channel.LastError = "publish refused: wrong or missing stream key";
            }

            Send(5, RtmpMessage.CommandAmf0, 1, new Amf0.Writer().String("onStatus").Number(0).Null()
                .Object(("level", "error"), ("code", "NetStream.Publish.BadName"), ("description", refusal)).ToArray());
            return false;
        }

        _channel = channel;
        log.LogInformation("RTMP publish on channel '{Channel}' from {Remote}", channelName, connection.RemoteEndPoint);
        Send(5, RtmpMessage.CommandAmf0, 1, new Amf0.Writer().String("onStatus").Number(0).Null()
            .Object(("level", "status"), ("code", "NetStream.Publish.Start"), ("description", $"publishing {channelName}")).ToArray());
        return true;
    }

    // @setDataFrame onMetaData: the frame rate, and the frame size should the SPS not give it.
    private void Metadata(List<object?> values)
    {
        foreach (var value in values)
        {
            if (value is Dictionary<string, object?> meta)
            {
                _width = meta.TryGetValue("width", out var w) && w is double dw and > 0 and < 16384 ? (int)dw : _width;
                _height = meta.TryGetValue("height", out var h) && h is double dh and > 0 and < 16384 ? (int)dh : _height;
                _frameRate = meta.TryGetValue("framerate", out var f) && f is double fps and > 0 and <= 240 ? fps : _frameRate;
            }
        }
    }

    // The remuxer starts with the first media frame, when the publisher has sent its codec configurations. The frame size
    // comes from the SPS (what decoders will see; some encoders send no metadata), the metadata's only if the SPS has none.
    private Transcode.Live.ILiveIngest Remuxer(LiveChannel channel)
    {
        if (_remuxer is null)
        {
            var (width, height) = (_width, _height);
            try
            {
                (width, height) = Transcode.Media.H264Sps.FrameSize(channel.VideoConfig);
            }
            catch (Transcode.TranscodeException) when (width > 0 && height > 0)
            {
            }

            _remuxer = packaging.OpenPublish(channel, new Transcode.Live.LiveStreamInfo(channel.VideoConfig!, channel.AudioConfig, width, height), _frameRate);
        }

        return _remuxer;
    }

    private void Video(ReadOnlySpan<byte> tag, uint timestamp)
    {
        var channel = Publishing("video");
        channel.CountBytes(tag.Length);
        Need(tag, 5);
        var frameType = tag[0] >> 4;
        var codec = tag[0] & 0x0f;
        if (frameType == 5)
        {
            return; // video info / command frame
        }

        if (codec != 7)
        {
            throw new RtmpProtocolException($"video codec id {codec} is not supported (H.264 only)");
        }

        switch (tag[1])
        {
            case 0:
                channel.VideoConfig = tag[5..].ToArray();
                break;
            case 1:
                if (channel.VideoConfig is null)
                {
                    throw new RtmpProtocolException("H.264 video before its sequence header (no SPS/PPS)");
                }

                channel.CountVideo(frameType == 1);
                var composition = (tag[2] << 16 | tag[3] << 8 | tag[4]) << 8 >> 8; // signed 24 bits
                Remuxer(channel).WriteVideo(tag[5..], timestamp, composition, frameType == 1);
                break;
        }
    }

    private void Audio(ReadOnlySpan<byte> tag, uint timestamp)
    {
        var channel = Publishing("audio");
        channel.CountBytes(tag.Length);
        Need(tag, 2);
        var format = tag[0] >> 4;
        if (format != 10)
        {
            throw new RtmpProtocolException($"audio format {format} is not supported (AAC only)");
        }

        if (tag[1] == 0)
        {
            channel.AudioConfig = tag[2..].ToArray();
        }
        else if (channel.AudioConfig is null)
        {
            throw new RtmpProtocolException("AAC audio before its AudioSpecificConfig");
        }
        else
        {
            channel.CountAudio();
            if (channel.VideoConfig is not null)
            {
                Remuxer(channel).WriteAudio(tag[2..], timestamp);
            }
        }
    }

    private LiveChannel Publishing(string what) =>
        _channel ?? throw new RtmpProtocolException($"{what} data before a successful publish");

    public void End(string? error)
    {
        if (error is not null)
        {
            log.LogWarning("RTMP connection {Id} from {Remote} closed: {Reason}", connection.Id, connection.RemoteEndPoint, error);
        }

        if (_remuxer is { } remuxer)
        {
            _remuxer = null;
            try
            {
                remuxer.Finish();
            }
            catch (Transcode.TranscodeException ex)
            {
                log.LogWarning("live packaging of channel '{Channel}' could not finish: {Reason}", _channel?.Name, ex.Message);
            }
            finally
            {
                remuxer.Dispose();
            }
        }

        if (_channel is { } channel)
        {
            _channel = null;
            channel.StopPublishing(error);
            log.LogInformation("RTMP publish on channel '{Channel}' ended", channel.Name);
        }
    }

    private void Send(int csid, byte type, int streamId, byte[] payload)
    {
        // Control messages and command answers (rare, small): one buffer, one send.
        var rented = ArrayPool<byte>.Shared.Rent(12 + payload.Length + (payload.Length / _outChunkSize) + 1);
        var message = rented.AsSpan();
        var n = 0;
        var offset = 0;
        do
        {
            var first = offset == 0;
            message[n++] = (byte)(((first ? 0 : 3) << 6) | csid);
            if (first)
            {
                message[n++] = 0;
                message[n++] = 0;
                message[n++] = 0; // timestamp 0
                message[n++] = (byte)(payload.Length >> 16);
                message[n++] = (byte)(payload.Length >> 8);
                message[n++] = (byte)payload.Length;
                message[n++] = type;
                BinaryPrimitives.WriteInt32LittleEndian(message[n..], streamId);
                n += 4;
            }

            var take = Math.Min(_outChunkSize, payload.Length - offset);
            payload.AsSpan(offset, take).CopyTo(message[n..]);
            n += take;
            offset += take;
        }
        while (offset < payload.Length);

        try
        {
            connection.Send(message[..n]);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    // RTMP 5.4.3: acknowledge every window's worth of received bytes, or the publisher may stop sending.
    private void Acknowledge()
    {
        var received = _chunks.BytesReceived;
        if (received - _lastAck >= _ackWindow)
        {
            _lastAck = received;
            Send(2, RtmpMessage.Acknowledgement, 0, BigEndian((uint)received));
        }
    }

    private static byte[] BigEndian(uint value)
    {
        var b = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, value);
        return b;
    }

    private static ReadOnlySpan<byte> Need(ReadOnlySpan<byte> payload, int bytes) =>
        payload.Length >= bytes ? payload : throw new RtmpProtocolException($"message of {payload.Length} bytes, needs {bytes}");

    internal static (string Channel, string Key) SplitStreamName(string streamName)
    {
        var q = streamName.IndexOf('?');
        var channel = q < 0 ? streamName : streamName[..q];
        var key = "";
        if (q >= 0)
        {
            foreach (var pair in streamName[(q + 1)..].Split('&'))
            {
                if (pair.StartsWith("key=", StringComparison.Ordinal))
                {
                    key = Uri.UnescapeDataString(pair[4..]);
                }
            }
        }

        return (channel, key);
    }

    private static bool KeyMatches(string expected, string given) =>
        System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(
            System.Text.Encoding.UTF8.GetBytes(expected), System.Text.Encoding.UTF8.GetBytes(given));

    public void Dispose()
    {
        _remuxer?.Dispose();
        _chunks.Dispose();
    }
}
