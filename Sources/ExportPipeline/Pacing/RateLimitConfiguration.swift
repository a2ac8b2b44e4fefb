/// How fast one account's calls may go. The vendor publishes no limit, so the default is adaptive.
public struct RateLimitConfiguration: Sendable, Hashable {
    /// Whether the rate is known or found while running.
    public enum Mode: String, Sendable, Hashable {
        /// Keep ``RateLimitConfiguration/requestsPerSecond`` exactly.
        case fixed
        /// Start at ``RateLimitConfiguration/requestsPerSecond``, cut on throttling, probe upward
        /// while calls succeed, never above ``RateLimitConfiguration/maxRequestsPerSecond``.
        case adaptive
    }

    /// Fixed or adaptive. Default adaptive.
    public var mode: Mode = .adaptive
    /// The rate (fixed) or the starting rate (adaptive), in requests per second. Default 5.
    public var requestsPerSecond: Double = 5
    /// The adaptive rate's ceiling. Default 100.
    public var maxRequestsPerSecond: Double = 100
    /// The adaptive rate's floor. Default 0.5.
    public var minRequestsPerSecond: Double = 0.5
    /// Requests that may go back to back before the rate applies. Default 1.
    public var burst: Int = 1
    /// Requests of the account in flight at once. Default 16.
    public var maxInFlight: Int = 16

    /// Creates a configuration with the defaults.
    public init() {}

    /// A fixed rate.
    public static func fixed(_ requestsPerSecond: Double, burst: Int = 1, maxInFlight: Int = 16) -> Self {
        var configuration = Self()
        configuration.mode = .fixed
        configuration.requestsPerSecond = requestsPerSecond
        configuration.burst = burst
        configuration.maxInFlight = maxInFlight
        return configuration
    }

    /// No practical limit: for simulators and tests that are not about pacing.
    public static let unlimited = Self.fixed(1_000_000, burst: 1_000_000, maxInFlight: 1_000_000)
}
