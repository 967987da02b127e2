namespace StreamServer.Transcode.Interop;

/// <summary>Turns FFmpeg return codes into <see cref="TranscodeException"/> with av_strerror text.</summary>
internal static unsafe class FfmpegError
{
    public static readonly int Eof = SsAv.ErrorEof();
    public static readonly int Again = SsAv.ErrorEagain();

    /// <summary>AVERROR(ENOMEM) on Linux: what an allocator that said no (a full buffer pool) turns into.</summary>
    public const int NoMemory = -12;

    public static string Describe(int error)
    {
        byte* buf = stackalloc byte[256];
        if (SsAv.StrError(error, buf, 256) < 0)
        {
            return $"FFmpeg error {error}";
        }

        return SsAv.Utf8(buf) ?? $"FFmpeg error {error}";
    }

    public static int Check(int result, string operation)
    {
        if (result < 0)
        {
            throw new TranscodeException(operation, result, Describe(result));
        }

        return result;
    }
}
