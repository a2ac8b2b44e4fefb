/// Whether one account's API can be reached, as pure state: answers and failures come in,
/// admissions come out.
///
/// While calls are answered, every call goes. When a call has failed at the connection level (refused,
/// reset, DNS, timeout, a 5xx) for all of its attempts and no other call of the account was answered
/// since that call began, the API is down for the account: the workers stop, and one call at a time
/// probes it, on a backoff from ``firstProbeDelay`` doubling up to ``longestProbeDelay``. The first
/// answer ends the outage and every worker goes on where it was. An outage that lasts past the
/// tolerance (counted from the last answer) gives up: the run fails and can be resumed.
public struct OutageStateMachine: Sendable {
    /// What a call may do now.
    public enum Admission: Sendable, Equatable {
        /// Send it.
        case go
        /// Send it as the probe, once the clock reads `at`.
        case probe(at: Double)
        /// Wait until the probe has answered or failed.
        case wait
        /// The API has been unreachable for longer than the tolerance.
        case giveUp(downFor: Double)
    }

    /// The first probe's delay after the outage began, in seconds.
    public static let firstProbeDelay = 1.0
    /// The longest delay between two probes, in seconds.
    public static let longestProbeDelay = 30.0

    /// Seconds the account may stay unreachable before the run gives up.
    public let tolerance: Double
    /// When the API last answered a call of this account (or the run began).
    public private(set) var lastAnswer: Double
    private var outage: (nextProbe: Double, delay: Double, probing: Bool)?

    /// Creates the state at `now`, with an outage `tolerance` in seconds.
    public init(tolerance: Double, now: Double) {
        self.tolerance = tolerance
        self.lastAnswer = now
    }

    /// Whether the account is in an outage.
    public var isDown: Bool { self.outage != nil }

    /// What a call may do at `now`.
    public mutating func admit(now: Double) -> Admission {
        guard var outage = self.outage else { return .go }
        if now - self.lastAnswer >= self.tolerance { return .giveUp(downFor: now - self.lastAnswer) }
        guard !outage.probing else { return .wait }
        outage.probing = true
        self.outage = outage
        return .probe(at: min(outage.nextProbe, self.lastAnswer + self.tolerance))
    }

    /// The API answered a call (whatever it said): the account is reachable.
    public mutating func answered(now: Double) {
        self.lastAnswer = max(self.lastAnswer, now)
        self.outage = nil
    }

    /// A call that began at `began` failed at the connection level for all of its attempts; returns
    /// whether that makes an outage (no call was answered since it began).
    public mutating func unreachable(now: Double, callBegan began: Double) -> Bool {
        if self.outage != nil { return true }
        guard self.lastAnswer <= began else { return false }
        self.outage = (nextProbe: now + Self.firstProbeDelay, delay: Self.firstProbeDelay, probing: false)
        return true
    }

    /// The probe failed at the connection level: the next one waits twice as long.
    public mutating func probeFailed(now: Double) {
        guard var outage = self.outage else { return }
        outage.delay = min(outage.delay * 2, Self.longestProbeDelay)
        outage.nextProbe = now + outage.delay
        outage.probing = false
        self.outage = outage
    }
}
