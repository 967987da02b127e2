namespace StreamServer.Vod;

/// <summary>What to answer for one file request: status and the byte window of the body.</summary>
internal readonly record struct VodResponsePlan(int Status, long Offset, long Count, bool SendBody)
{
    /// <summary>206 and 416 carry a Content-Range; Count is the window (206) and the file length goes after the slash.</summary>
    public bool HasContentRange => Status is 206 or 416;
}
