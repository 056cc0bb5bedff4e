// Tests run one at a time: several of them count the process's threads and managed memory, and the
// concurrency tests hold worker threads on gates, which parallel neighbours on a small machine would disturb.
[assembly: DoNotParallelize]
