import Dispatch
import Synchronization

/// The pacing every worker of one account shares, whichever library it walks: a cap on calls in
/// flight and the rate of ``RateLimiterStateMachine``, waited out on the caller's own thread.
final class AccountRateLimiter: Sendable {
    /// How a call that ``acquire(unless:)`` allowed ended, as far as pacing cares.
    enum CallEnd {
        /// The API answered without throttling (an error answer included).
        case admitted
        /// The API throttled it; `retryAfter` seconds if it said so.
        case throttled(retryAfter: Double?)
        /// No answer (connection failure, timeout): it tells nothing of the limit.
        case unanswered
    }

    private let state: Mutex<RateLimiterStateMachine>
    /// Calls in flight: starts at the state machine's window, and grows with it.
    private let slots: DispatchSemaphore
    private let clock: any PipelineClock

    init(configuration: RateLimitConfiguration, clock: any PipelineClock) {
        let machine = RateLimiterStateMachine(configuration: configuration, now: clock.now())
        self.slots = DispatchSemaphore(value: machine.inFlightWindow)
        self.state = Mutex(machine)
        self.clock = clock
        self.adapts = configuration.mode == .adaptive
    }

    /// Whether the rate follows the API's throttles (adaptive mode).
    let adapts: Bool

    /// Waits for a slot in flight and the next slot in time; false if `stop` was raised meanwhile
    /// (the caller must not send, and must not call ``finished(_:)``). A reservation made before a
    /// throttle cut the rate is made again at the new rate.
    @available(*, noasync)
    func acquire(unless stop: StopSignal) -> Bool {
        self.slots.wait()
        while true {
            let (delay, generation) = self.state.withLock { ($0.reserve(now: self.clock.now()), $0.generation) }
            if delay > 0 { self.clock.sleep(seconds: delay, unless: stop) }
            if stop.isRaised {
                self.slots.signal()
                return false
            }
            if delay <= 0 || self.state.withLock({ $0.generation }) == generation { return true }
        }
    }

    /// Seconds since the API last admitted a call of this account.
    func secondsSinceAdmitted() -> Double {
        let now = self.clock.now()
        return self.state.withLock { now - $0.lastAdmitted }
    }

    /// The call that ``acquire(unless:)`` allowed is over.
    func finished(_ end: CallEnd) {
        let now = self.clock.now()
        let grew = self.state.withLock { state -> Bool in
            switch end {
            case .admitted:
                return state.admitted(now: now)
            case .throttled(let retryAfter):
                state.throttled(now: now)
                if let retryAfter { state.pause(until: now + retryAfter) }
                return false
            case .unanswered:
                return false
            }
        }
        self.slots.signal()
        if grew { self.slots.signal() }
    }
}
