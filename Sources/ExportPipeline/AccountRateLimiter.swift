import Dispatch
import Synchronization

/// The pacing every worker of one account shares, whichever library it walks: a cap on calls in
/// flight and the rate of ``RateLimiterStateMachine``, waited out on the caller's own thread.
final class AccountRateLimiter: Sendable {
    private let state: Mutex<RateLimiterStateMachine>
    private let slots: DispatchSemaphore
    private let clock: any PipelineClock

    init(configuration: RateLimitConfiguration, clock: any PipelineClock) {
        self.state = Mutex(RateLimiterStateMachine(configuration: configuration, now: clock.now()))
        self.slots = DispatchSemaphore(value: configuration.maxInFlight)
        self.clock = clock
    }

    /// Waits for a slot in flight and the next slot in time; false if `stop` was raised meanwhile
    /// (the caller must not send, and must not call ``finished(throttled:retryAfter:)``).
    @available(*, noasync)
    func acquire(unless stop: StopSignal) -> Bool {
        self.slots.wait()
        let delay = self.state.withLock { $0.reserve(now: self.clock.now()) }
        if delay > 0 { self.clock.sleep(seconds: delay, unless: stop) }
        if stop.isRaised {
            self.slots.signal()
            return false
        }
        return true
    }

    /// The call that ``acquire(unless:)`` allowed is over.
    func finished(throttled: Bool, retryAfter: Double?) {
        if throttled || retryAfter != nil {
            let now = self.clock.now()
            self.state.withLock { state in
                if throttled { state.throttled(now: now) }
                if let retryAfter { state.pause(until: now + retryAfter) }
            }
        }
        self.slots.signal()
    }
}
