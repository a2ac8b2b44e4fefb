import Foundation

/// The pacing of one account's calls, as pure state: time and answers come in, delays come out.
///
/// Pacing is a generic cell-rate algorithm (a token bucket expressed as the theoretical arrival
/// time of the next call): each reservation returns how long to wait before sending, so calls
/// leave at the configured rate with at most `burst` back to back. In adaptive mode the rate
/// follows the API's answers, as AWS SDKs' adaptive retry mode and TCP CUBIC do:
///
/// - until the first throttle, it doubles every ``slowStartDoublingSeconds``;
/// - a throttle (`CONCURRENCY_LIMIT_EXCEEDED`, 429) measures the rate the API actually *admitted*
///   over the last ``measureSeconds`` (not the rate configured or reached), remembers it as the
///   ceiling and cuts to ``cutFactor`` of it; further throttles within ``cutCooldownSeconds`` are
///   the same event, and every reservation made before the cut is made again at the new rate;
/// - after a cut the rate climbs back to the ceiling within one cycle, then probes above it, slowly at
///   first and faster the longer no throttle comes (cubic growth). A cycle lasts as long as
///   ``callsPerCycle`` calls take at the ceiling (within ``cycleSeconds``), so a low limit is probed
///   as rarely, per call, as a high one: about one rejected call per cycle.
///
/// Calls in flight start at ``initialInFlight`` in adaptive mode and grow by one per admitted call
/// up to `maxInFlight`: a run that starts far above an account's limit does not send a full window
/// of calls before the first answer tells it so.
///
/// A `Retry-After` pauses every reservation until the time it names.
public struct RateLimiterStateMachine: Sendable {
    /// Share of the admitted rate kept after a cut.
    public static let cutFactor = 0.9
    /// Throttles closer together than this count as one.
    public static let cutCooldownSeconds = 1.0
    /// The window over which the admitted rate is measured.
    public static let measureSeconds = 1.0
    /// Calls at the ceiling that one cycle of recovery and probing lasts.
    public static let callsPerCycle = 200.0
    /// Bounds of a cycle's length.
    public static let cycleSeconds = 2.0...120.0
    /// Growth above the ceiling after one cycle of probing (cubic in the time since).
    public static let probeGrowthPerCycle = 0.1
    /// Doubling time before the first throttle.
    public static let slowStartDoublingSeconds = 2.0
    /// Calls in flight before the first admitted call, in adaptive mode.
    public static let initialInFlight = 2

    private let configuration: RateLimitConfiguration
    /// When the next call may leave if the bucket were empty.
    private var theoreticalArrival: Double
    /// Nothing leaves before this (a `Retry-After`).
    private var pausedUntil: Double
    /// Adaptive state: the rate where the curve starts, when it started, and the ceiling last measured.
    private var curveStartRate: Double
    private var curveStartTime: Double
    private var ceiling: Double?
    private var lastCut: Double?
    /// When the last calls were admitted: a ring of the newest ``admittedKept``, `nextAdmitted` its next slot.
    private var admittedTimes: [Double] = []
    private var nextAdmitted = 0
    /// Admission times kept: enough to measure rates up to this many calls per second.
    static let admittedKept = 4096
    /// Calls that may be in flight now.
    public private(set) var inFlightWindow: Int
    /// Bumped by every cut: a reservation made under an older generation is made again.
    public private(set) var generation = 0
    /// When the API last admitted a call (or the pacing began).
    public private(set) var lastAdmitted: Double

    /// Creates the pacing, starting at time `now`.
    public init(configuration: RateLimitConfiguration, now: Double) {
        precondition(configuration.requestsPerSecond > 0 && configuration.burst >= 1)
        self.configuration = configuration
        self.theoreticalArrival = now
        self.pausedUntil = now
        self.curveStartRate = configuration.requestsPerSecond
        self.curveStartTime = now
        self.lastAdmitted = now
        self.inFlightWindow =
            configuration.mode == .adaptive
            ? min(configuration.maxInFlight, Self.initialInFlight) : configuration.maxInFlight
    }

    /// The rate in force at `now`, in requests per second.
    public func rate(at now: Double) -> Double {
        guard self.configuration.mode == .adaptive else { return self.configuration.requestsPerSecond }
        let elapsed = max(0, now - self.curveStartTime)
        let rate: Double
        if let ceiling = self.ceiling {
            let cycle = Self.cycle(ceiling: ceiling)
            if elapsed < cycle {
                rate = self.curveStartRate + (ceiling - self.curveStartRate) * elapsed / cycle
            } else {
                let probing = (elapsed - cycle) / cycle
                rate = ceiling * (1 + Self.probeGrowthPerCycle * probing * probing * probing)
            }
        } else {
            rate = self.curveStartRate * exp2(elapsed / Self.slowStartDoublingSeconds)
        }
        return min(max(rate, self.configuration.minRequestsPerSecond), self.configuration.maxRequestsPerSecond)
    }

    /// How long one cycle of recovery and probing lasts at `ceiling` calls per second.
    static func cycle(ceiling: Double) -> Double {
        min(max(Self.callsPerCycle / ceiling, Self.cycleSeconds.lowerBound), Self.cycleSeconds.upperBound)
    }

    /// Reserves the next call's slot; returns the seconds to wait before sending it. A reservation
    /// is good while ``generation`` stays the same.
    public mutating func reserve(now: Double) -> Double {
        let interval = 1 / self.rate(at: now)
        let earliest = max(self.pausedUntil, now)
        let slot = max(self.theoreticalArrival - Double(self.configuration.burst - 1) * interval, earliest)
        self.theoreticalArrival = max(self.theoreticalArrival, slot) + interval
        return slot - now
    }

    /// The API admitted a call (it answered without throttling); returns whether the window of calls
    /// in flight grew by one.
    public mutating func admitted(now: Double) -> Bool {
        if self.admittedTimes.count < Self.admittedKept {
            self.admittedTimes.append(now)
        } else {
            self.admittedTimes[self.nextAdmitted] = now
        }
        self.nextAdmitted = (self.nextAdmitted + 1) % Self.admittedKept
        self.lastAdmitted = max(self.lastAdmitted, now)
        guard self.inFlightWindow < self.configuration.maxInFlight else { return false }
        self.inFlightWindow += 1
        return true
    }

    /// The calls the API admitted per second over the last ``measureSeconds``.
    public func admittedRate(now: Double) -> Double {
        Double(self.admittedInLastSecond(now: now).count) / Self.measureSeconds
    }

    /// How many calls were admitted over the last ``measureSeconds``, and when the oldest of them was.
    private func admittedInLastSecond(now: Double) -> (count: Int, oldest: Double?) {
        let since = now - Self.measureSeconds
        var count = 0
        var oldest: Double?
        for time in self.admittedTimes where time > since {
            count += 1
            oldest = min(oldest ?? time, time)
        }
        return (count, oldest)
    }

    /// The API said the account is over its limit.
    public mutating func throttled(now: Double) {
        guard self.configuration.mode == .adaptive else { return }
        if let lastCut = self.lastCut, now - lastCut < Self.cutCooldownSeconds { return }
        let admitted = self.admittedInLastSecond(now: now)
        let ceiling = min(
            max(Double(admitted.count) / Self.measureSeconds, self.configuration.minRequestsPerSecond),
            self.configuration.maxRequestsPerSecond
        )
        self.ceiling = ceiling
        self.curveStartRate = max(ceiling * Self.cutFactor, self.configuration.minRequestsPerSecond)
        self.curveStartTime = now
        self.lastCut = now
        // Reservations handed out at the old rate are made again, at the new one, and none before the
        // oldest admission of the last second has left it: after a burst (a run starting far above the
        // limit) the API's window stays full until then, and every call sent meanwhile is refused. In
        // steady flow that is one interval.
        if let oldest = admitted.oldest {
            self.pausedUntil = max(self.pausedUntil, oldest + Self.measureSeconds)
        }
        self.theoreticalArrival = now
        self.generation += 1
    }

    /// The server asked for a pause until `until` (`Retry-After`).
    public mutating func pause(until: Double) {
        self.pausedUntil = max(self.pausedUntil, until)
    }

}
