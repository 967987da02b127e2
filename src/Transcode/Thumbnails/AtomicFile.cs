namespace StreamServer.Transcode.Thumbnails;

/// <summary>Readers (the static file server) never see a half-written file: write a temporary sibling, then rename.</summary>
public static class AtomicFile
{
    public static void Write(string path, ReadOnlySpan<byte> content) => Interop.PosixFile.WriteReplacing(path, content);

    public static void WriteText(string path, string content) => Write(path, System.Text.Encoding.UTF8.GetBytes(content));
}
