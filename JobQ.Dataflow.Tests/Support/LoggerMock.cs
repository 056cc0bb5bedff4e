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

    /// <summary>Creates a logger mock enabled at every level whose every <c>Log</c> call throws.</summary>
    public static Mock<ILogger> CreateThrowing()
    {
        var logger = Create();
        logger
            .Setup(l => l.Log(It.IsAny<LogLevel>(), It.IsAny<EventId>(), It.IsAny<It.IsAnyType>(), It.IsAny<Exception?>(), It.IsAny<Func<It.IsAnyType, Exception?, string>>()))
            .Throws(new InvalidOperationException("logger down"));
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

    /// <summary>Verifies log calls at <paramref name="level"/> with an exception of type <typeparamref name="TException"/>.</summary>
    public static void VerifyLogged<TException>(this Mock<ILogger> logger, LogLevel level, Times times)
        where TException : Exception
        => logger.Verify(
            l => l.Log(
                level,
                It.IsAny<EventId>(),
                It.IsAny<It.IsAnyType>(),
                It.IsAny<TException>(),
                It.IsAny<Func<It.IsAnyType, Exception?, string>>()),
            times);

    /// <summary>Verifies that nothing was logged at <paramref name="level"/>.</summary>
    public static void VerifyNotLogged(this Mock<ILogger> logger, LogLevel level)
        => logger.Verify(
            l => l.Log(
                level,
                It.IsAny<EventId>(),
                It.IsAny<It.IsAnyType>(),
                It.IsAny<Exception?>(),
                It.IsAny<Func<It.IsAnyType, Exception?, string>>()),
            Times.Never);
}
