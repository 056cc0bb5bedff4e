// Timing-sensitive tests (gates, fake clocks, dedicated threads) on a small CI machine: run them one at a time.
[assembly: DoNotParallelize]
