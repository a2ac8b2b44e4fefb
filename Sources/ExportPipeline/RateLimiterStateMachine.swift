import Foundation

/// The pacing of one account's calls, as pure state: time comes in, delays come out.
///
/// Pacing is a generic cell-rate algorithm (a token bucket expressed as the theoretical arrival
/// time of the next call): each reservation returns how long to wait before sending, so calls
/// leave at the configured rate with at most `burst` back to back. In adaptive mode the rate
/// follows a CUBIC-like curve, as AWS SDKs' adaptive retry mode does:
///
/// - until the first throttle, it doubles every ``slowStartDoublingSeconds``;
/// - a throttle (`CONCURRENCY_LIMIT_EXCEEDED`, 429) remembers the rate as the ceiling last met and
///   cuts to ``cutFactor`` of it; further throttles within ``cutCooldownSeconds`` are the same event;
/// - after a cut the rate climbs back to the last ceiling within ``recoverySeconds``, then probes
///   above it by ``probeGrowthPerSecond`` of it per second, until the next throttle.
///
/// A `Retry-After` pauses every reservation until the time it names.
public struct RateLimiterStateMachine: Sendable {
    /// Share of the throttled rate kept after a cut.
    public static let cutFactor = 0.9
    /// Throttles closer together than this count as one.
    public static let cutCooldownSeconds = 1.0
    /// Time to climb back to the last ceiling after a cut.
    public static let recoverySeconds = 2.0
    /// Growth above the last ceiling, as a share of it per second.
    public static let probeGrowthPerSecond = 0.04
    /// Doubling time before the first throttle.
    public static let slowStartDoublingSeconds = 2.0

    private let configuration: RateLimitConfiguration
    /// When the next call may leave if the bucket were empty.
    private var theoreticalArrival: Double
    /// Nothing leaves before this (a `Retry-After`).
    private var pausedUntil: Double
    /// Adaptive state: the rate where the curve starts, when it started, and the last ceiling met.
    private var curveStartRate: Double
    private var curveStartTime: Double
    private var lastCeiling: Double?
    private var lastCut: Double?

    /// Creates the pacing, starting at time `now`.
    public init(configuration: RateLimitConfiguration, now: Double) {
        precondition(configuration.requestsPerSecond > 0 && configuration.burst >= 1)
        self.configuration = configuration
        self.theoreticalArrival = now
        self.pausedUntil = now
        self.curveStartRate = configuration.requestsPerSecond
        self.curveStartTime = now
    }

    /// The rate in force at `now`, in requests per second.
    public func rate(at now: Double) -> Double {
        guard self.configuration.mode == .adaptive else { return self.configuration.requestsPerSecond }
        let elapsed = max(0, now - self.curveStartTime)
        let rate: Double
        if let ceiling = self.lastCeiling {
            if elapsed < Self.recoverySeconds {
                rate = self.curveStartRate + (ceiling - self.curveStartRate) * elapsed / Self.recoverySeconds
            } else {
                rate = ceiling * (1 + Self.probeGrowthPerSecond * (elapsed - Self.recoverySeconds))
            }
        } else {
            rate = self.curveStartRate * exp2(elapsed / Self.slowStartDoublingSeconds)
        }
        return min(max(rate, self.configuration.minRequestsPerSecond), self.configuration.maxRequestsPerSecond)
    }

    /// Reserves the next call's slot; returns the seconds to wait before sending it.
    public mutating func reserve(now: Double) -> Double {
        let interval = 1 / self.rate(at: now)
        let earliest = max(self.pausedUntil, now)
        let slot = max(self.theoreticalArrival - Double(self.configuration.burst - 1) * interval, earliest)
        self.theoreticalArrival = max(self.theoreticalArrival, slot) + interval
        return slot - now
    }

    /// The API said the account is over its limit.
    public mutating func throttled(now: Double) {
        guard self.configuration.mode == .adaptive else { return }
        if let lastCut = self.lastCut, now - lastCut < Self.cutCooldownSeconds { return }
        let current = self.rate(at: now)
        self.lastCeiling = current
        self.curveStartRate = max(current * Self.cutFactor, self.configuration.minRequestsPerSecond)
        self.curveStartTime = now
        self.lastCut = now
        // Slots already handed out at the old rate stay; later ones follow the new interval.
        self.theoreticalArrival = max(self.theoreticalArrival, now)
    }

    /// The server asked for a pause until `until` (`Retry-After`).
    public mutating func pause(until: Double) {
        self.pausedUntil = max(self.pausedUntil, until)
    }
}
