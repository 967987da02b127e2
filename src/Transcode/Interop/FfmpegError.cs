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
            // What FFmpeg logged on this thread says why; the code alone often does not ("Device or resource busy" for a
            // picture size no decoder can hold).
            var text = Describe(result);
            var why = TakeLastLogged();
            throw new TranscodeException(operation, result, why is null || text.Contains(why, StringComparison.Ordinal) ? text : $"{text} ({why})");
        }

        return result;
    }

    /// <summary>Forgets what FFmpeg logged on this thread so far (before a call whose failure should carry only its own).</summary>
    public static void ClearLogged() => TakeLastLogged();

    private static string? TakeLastLogged()
    {
        byte* buf = stackalloc byte[256];
        return SsAv.TakeLastError(buf, 256) > 0 ? SsAv.Utf8(buf) : null;
    }
}
