namespace StreamServer.BufferPool;

/// <summary>
/// One slab of equally sized blocks. <paramref name="Share"/> is the fraction of the pool capacity the slab
/// gets (the shares of all classes should sum to about 1).
/// </summary>
public readonly record struct SizeClass(string Name, int BlockSize, double Share);
