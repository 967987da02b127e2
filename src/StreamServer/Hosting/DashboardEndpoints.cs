using Microsoft.Extensions.FileProviders;

namespace StreamServer.Hosting;

/// <summary>The ops dashboard: static page + uPlot under /dashboard/, reading /metrics, /healthz and /api.</summary>
internal static class DashboardEndpoints
{
    public static void UseDashboard(this WebApplication app)
    {
        var root = Path.Combine(AppContext.BaseDirectory, "dashboard");
        if (!Directory.Exists(root))
        {
            return;
        }

        var files = new PhysicalFileProvider(root);
        // A route for "/dashboard" would also match "/dashboard/" and shadow the static files.
        app.Use(static (ctx, next) =>
        {
            if (ctx.Request.Path.Value == "/dashboard")
            {
                ctx.Response.Redirect("/dashboard/");
                return Task.CompletedTask;
            }

            return next(ctx);
        });
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files, RequestPath = "/dashboard" });
        app.UseStaticFiles(new StaticFileOptions
        {
            FileProvider = files,
            RequestPath = "/dashboard",
            OnPrepareResponse = static ctx => ctx.Context.Response.Headers.CacheControl = "no-cache",
        });
    }
}
