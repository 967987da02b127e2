namespace StreamServer.TestSupport;

/// <summary>Finds the repository checkout the tests were built from (for tools and pages that live in it).</summary>
public static class RepoPaths
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        var dir = AppContext.BaseDirectory;
        while (dir is not null && !File.Exists(Path.Combine(dir, "StreamServer.sln")))
        {
            dir = Path.GetDirectoryName(dir);
        }

        return dir ?? throw new InvalidOperationException("tests are not running from a StreamServer checkout");
    }

    public static string Combine(params string[] parts) => Path.Combine([Root, .. parts]);
}
