namespace StreamServer.Transcode.Packaging;

/// <summary>One video rung: output size, folder name, bitrates.</summary>
public sealed record RenditionPlan(string Name, int Width, int Height, long Bitrate, long Maxrate, long BufferBits);
