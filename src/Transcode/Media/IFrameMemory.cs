namespace StreamServer.Transcode.Media;

/// <summary>
/// Where decoded and scaled video frames live. FFmpeg's get_buffer2 (decoder) and our scaler output
/// rent one block per frame here and release it when the last reference to the frame is dropped.
/// Implementations must be thread safe: decoder threads rent, encoder threads may release.
/// The buffer pool (src/BufferPool) plugs in here.
/// </summary>
public interface IFrameMemory
{
    /// <summary>A block of at least <paramref name="size"/> bytes aligned to <paramref name="alignment"/>, or 0 when exhausted.</summary>
    nint Rent(nuint size, nuint alignment);

    /// <summary>Returns a block obtained from <see cref="Rent"/>.</summary>
    void Release(nint block);

    /// <summary>
    /// Rents answered with 0 so far. FFmpeg reports a frame it could not allocate as whatever its caller makes of it
    /// (H.264: "Invalid data found"), so a failure during which this moved is told apart as a memory shortage.
    /// </summary>
    long FailedRents => 0;
}
