namespace StreamServer.BufferPool;

/// <summary>A lease was returned twice, used after return, or its freed memory was written to.</summary>
public sealed class BufferLeaseMisuseException(string message) : InvalidOperationException(message);
