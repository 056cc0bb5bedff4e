using Microsoft.Extensions.Logging;
using Moq;

namespace JobQ.Dataflow.Tests.Support;

/// <summary>Moq helpers for <see cref="ILogger"/>: every level enabled, and checks on what was logged.</summary>
internal static class LoggerMock
{
    /// <summary>Creates a logger mock whose <see cref="ILogger.IsEnabled"/> returns true for every level.</summary>
    public static Mock<ILogger> Create()
    {
        var logger = new Mock<ILogger>();
        logger.Setup(l => l.IsEnabled(It.IsAny<LogLevel>())).Returns(true);
        return logger;
    }

    /// <summary>
    /// Verifies a log call at <paramref name="level"/> whose message contains <paramref name="text"/> and whose
    /// exception is <paramref name="exception"/> (by reference; any exception when null).
    /// </summary>
    public static void VerifyLogged(this Mock<ILogger> logger, LogLevel level, string text, Exception? exception, Times times)
        => logger.Verify(
            l => l.Log(
                level,
                It.IsAny<EventId>(),
                It.Is<It.IsAnyType>((state, _) => state.ToString()!.Contains(text, StringComparison.Ordinal)),
                It.Is<Exception?>(e => exception == null ? e != null : ReferenceEquals(e, exception)),
                It.IsAny<Func<It.IsAnyType, Exception?, string>>()),
            times);

    /// <summary>Verifies a log call at <paramref name="level"/> whose message contains <paramref name="text"/>, with or without an exception.</summary>
    public static void VerifyLogged(this Mock<ILogger> logger, LogLevel level, string text, Times times)
        => logger.Verify(
            l => l.Log(
                level,
                It.IsAny<EventId>(),
                It.Is<It.IsAnyType>((state, _) => state.ToString()!.Contains(text, StringComparison.Ordinal)),
                It.IsAny<Exception?>(),
                It.IsAny<Func<It.IsAnyType, Exception?, string>>()),
            times);
}
