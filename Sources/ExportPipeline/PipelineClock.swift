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

/// A one-way flag that tells every stage to stop issuing work, and wakes those waiting.
public final class StopSignal: @unchecked Sendable {
    // `reason` is read and written only while `condition` is locked.
    private let condition = NSCondition()
    private var reason: String?
    private var interruption = false

    /// Creates a lowered signal.
    public init() {}

    /// Raises the signal; the first reason is kept. An `interruption` (a signal from outside) keeps the
    /// run's temporary files and journal so `--resume` can continue it.
    public func raise(_ reason: String, interruption: Bool = false) {
        self.condition.lock()
        if self.reason == nil {
            self.reason = reason
            self.interruption = interruption
        }
        self.condition.broadcast()
        self.condition.unlock()
    }

    /// Whether the run was stopped from outside, to be resumed.
    public var isInterruption: Bool {
        self.condition.lock()
        defer { self.condition.unlock() }
        return self.interruption
    }

    /// Why the signal was raised, or nil while it is not.
    public var raisedReason: String? {
        self.condition.lock()
        defer { self.condition.unlock() }
        return self.reason
    }

    /// Whether the signal is raised.
    public var isRaised: Bool { self.raisedReason != nil }

    /// Blocks up to `seconds` or until the signal is raised.
    public func wait(seconds: Double) {
        let deadline = Date(timeIntervalSinceNow: seconds)
        self.condition.lock()
        while self.reason == nil && Date() < deadline {
            _ = self.condition.wait(until: deadline)
        }
        self.condition.unlock()
    }
}
