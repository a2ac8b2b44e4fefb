/// Trouble the simulator makes on purpose, so that exporters meet what a real API does at night.
///
/// Rates are probabilities per request, drawn from a seeded generator so a run can be repeated.
public struct FaultPlan: Sendable, Hashable {
    /// Added to every answer, in seconds. Default 0.
    public var latency: Double = 0
    /// Uniform jitter around ``latency``, ± seconds. Default 0.
    public var latencyJitter: Double = 0
    /// Share of requests answered `500 INTERNAL_ERROR`. Default 0.
    public var errorRate: Double = 0
    /// Share of requests whose connection is reset without an answer. Default 0.
    public var resetRate: Double = 0
    /// Share of answers cut in half after a full `Content-Length`, then the connection closed. Default 0.
    public var truncateRate: Double = 0
    /// Share of requests answered late by ``slowDelay``. Default 0.
    public var slowRate: Double = 0
    /// Seconds a slow answer waits. Default 5.
    public var slowDelay: Double = 5
    /// Share of requests whose signature is treated as expired, as if the server's clock jumped. Default 0.
    public var expiredSignatureRate: Double = 0
    /// Requests per key accepted in any one-second window; more get `CONCURRENCY_LIMIT_EXCEEDED`. Default none.
    public var requestsPerSecondLimit: Int?
    /// Requests per key in flight at once; more get `CONCURRENCY_LIMIT_EXCEEDED`. Default none.
    public var inFlightLimit: Int?
    /// The status of a `CONCURRENCY_LIMIT_EXCEEDED` answer: the documents say 403 in places, 429 in others. Default 429.
    public var limitStatus = 429
    /// Seconds sent as `Retry-After` with `CONCURRENCY_LIMIT_EXCEEDED`; none by default (the vendor documents none).
    public var retryAfter: Int?
    /// Seed of the fault draws. Default 1.
    public var seed: UInt64 = 1

    /// No faults.
    public init() {}

    /// Whether any fault is planned.
    public var isEmpty: Bool { self == FaultPlan() }
}
