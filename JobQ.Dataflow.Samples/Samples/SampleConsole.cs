using Spectre.Console;

namespace JobQ.Dataflow.Samples;

/// <summary>Gives a sample a Spectre.Console console that writes where the sample was told to write.</summary>
public static class SampleConsole
{
    /// <summary>Returns the terminal's console for <see cref="Console.Out"/>, or a plain (no colour, no live redraw) console over <paramref name="output"/>.</summary>
    /// <param name="output">Where the sample writes.</param>
    /// <returns>The console.</returns>
    public static IAnsiConsole For(TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (ReferenceEquals(output, Console.Out))
        {
            return AnsiConsole.Console;
        }

        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output),
        });
        console.Profile.Width = 120;
        return console;
    }

    /// <summary>Gets a value indicating whether <paramref name="console"/> can redraw in place (a live display or progress bar).</summary>
    /// <param name="console">The console.</param>
    /// <returns><see langword="true"/> for an interactive terminal.</returns>
    public static bool IsLive(IAnsiConsole console)
    {
        ArgumentNullException.ThrowIfNull(console);
        return console.Profile.Capabilities.Interactive && console.Profile.Capabilities.Ansi;
    }
}
