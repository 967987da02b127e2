namespace StreamServer.Transcode;

/// <summary>A transcoding failure: the operation that failed and FFmpeg's own text, e.g. "avcodec_open2(libx264 720p): Invalid argument".</summary>
public sealed class TranscodeException : Exception
{
    public TranscodeException(string message) : base(message)
    {
    }

    public TranscodeException(string message, Exception inner) : base(message, inner)
    {
    }

    public TranscodeException(string operation, int ffmpegError, string ffmpegText)
        : base($"{operation}: {ffmpegText}")
    {
        Operation = operation;
        FfmpegError = ffmpegError;
    }

    /// <summary>The FFmpeg call (and its subject) that failed, when the failure came from FFmpeg.</summary>
    public string? Operation { get; }

    /// <summary>FFmpeg's AVERROR code (negative), 0 when the failure is ours.</summary>
    public int FfmpegError { get; }

    /// <summary>Memory ran out (ENOMEM: typically the buffer pool stayed full past its rent timeout): a busy server,
    /// not a bad input, so worth a retry.</summary>
    public bool IsOutOfMemory => FfmpegError == Interop.FfmpegError.NoMemory;
}
