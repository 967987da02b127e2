namespace StreamServer.Transcode.Media;

/// <summary>
/// Receives every decoded video frame of a packaging run, by reference, in presentation order, on the
/// decode thread (keep it quick; to keep a frame past the call, <see cref="FrameHandle.RefFrom"/> it
/// into your own FrameHandle). Lets thumbnails/sprites be built in the same pass without a second decode.
/// </summary>
public interface IDecodedFrameSink
{
    /// <summary>Called once before the first frame with the source video stream.</summary>
    void Start(MediaStreamInfo videoStream);

    /// <param name="frame">The decoded frame (source size and pixel format); valid only during the call.</param>
    /// <param name="time">Presentation time from the start of the source.</param>
    void OnFrame(FrameHandle frame, TimeSpan time);

    /// <summary>Called after the last frame when the run succeeded (not on failure or cancellation).</summary>
    void Complete();
}
