import Foundation

/// Where the pipeline reads time and waits; tests inject a manual clock so nothing really sleeps.
public protocol PipelineClock: Sendable {
    /// Monotonic seconds since an arbitrary origin.
    func now() -> Double
    /// Waits `seconds`, returning early when `stop` is raised.
    func sleep(seconds: Double, unless stop: StopSignal)
}

/// The machine's monotonic clock.
public struct SystemClock: PipelineClock {
    /// Creates the clock.
    public init() {}

    public func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    public func sleep(seconds: Double, unless stop: StopSignal) {
        stop.wait(seconds: seconds)
    }
}
