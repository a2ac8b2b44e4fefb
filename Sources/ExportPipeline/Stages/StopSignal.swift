import Foundation

/// A one-way flag that tells every stage to stop issuing work, and wakes those waiting.
public final class StopSignal: @unchecked Sendable {
    // `reason` is read and written only while `condition` is locked.
    private let condition = NSCondition()
    private var reason: String?
    private var interruption = false
    private var resumable = false

    /// Creates a lowered signal.
    public init() {}

    /// Raises the signal; the first reason is kept. An `interruption` (a signal from outside) or a
    /// `resumable` failure (an outage) keeps the run's temporary files and journal so `--resume` can
    /// continue it.
    public func raise(_ reason: String, interruption: Bool = false, resumable: Bool = false) {
        self.condition.lock()
        if self.reason == nil {
            self.reason = reason
            self.interruption = interruption
            self.resumable = interruption || resumable
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

    /// Whether the run's progress is kept for `--resume`: an interruption, or a failure that may pass.
    public var keepsProgress: Bool {
        self.condition.lock()
        defer { self.condition.unlock() }
        return self.resumable
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
