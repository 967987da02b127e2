namespace StreamServer.Tracing;

/// <summary>A tracer could not be opened, loaded or attached; the message says which step and why.</summary>
public sealed class TracerException(string message) : Exception(message);
