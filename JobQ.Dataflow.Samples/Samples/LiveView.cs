using Spectre.Console;
using Spectre.Console.Rendering;

namespace JobQ.Dataflow.Samples;

/// <summary>Redraws a view (a table built from live statistics) while a task runs, on a live terminal.</summary>
public static class LiveView
{
    /// <summary>
    /// On a live terminal, redraws <paramref name="render"/> ten times a second until <paramref name="run"/> completes,
    /// then once more; elsewhere writes the final view once.
    /// </summary>
    /// <param name="console">The console.</param>
    /// <param name="run">The work to follow; its outcome is not observed here.</param>
    /// <param name="render">Builds the view from the current state; called from this method's thread only.</param>
    /// <returns>A task that completes when <paramref name="run"/> has and the final view is drawn.</returns>
    public static async Task FollowAsync(IAnsiConsole console, Task run, Func<IRenderable> render)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(run);
        ArgumentNullException.ThrowIfNull(render);
        if (!SampleConsole.IsLive(console))
        {
            await Task.WhenAny(run);
            console.Write(render());
            return;
        }

        await console.Live(render()).StartAsync(async ctx =>
        {
            while (!run.IsCompleted)
            {
                await Task.WhenAny(run, Task.Delay(100));
                ctx.UpdateTarget(render());
            }
        });
    }
}
