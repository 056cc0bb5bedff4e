namespace JobQ.Dataflow;

/// <summary>A worker cannot be changed as asked: for example <c>SetThreadNum</c> on a stage with a dispatcher (jobq's <c>JobWorkerError</c>).</summary>
public class JobWorkerException : InvalidOperationException
{
    /// <summary>Creates the exception.</summary>
    public JobWorkerException()
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public JobWorkerException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="innerException">The cause.</param>
    public JobWorkerException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
