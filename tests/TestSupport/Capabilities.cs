namespace StreamServer.TestSupport;

/// <summary>What this machine allows; tests that need a capability skip with the reason when it is absent.</summary>
public static class Capabilities
{
    public static bool IsRoot => Environment.UserName == "root" || geteuid() == 0;

    public static string? MissingTool(params string[] tools)
    {
        foreach (var t in tools)
        {
            if (!ProcessRunner.Exists(t))
            {
                return $"'{t}' is not installed";
            }
        }

        return null;
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = false)]
    private static extern uint geteuid();
}
