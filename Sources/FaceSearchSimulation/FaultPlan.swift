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
    /// Share of answers whose body never ends: the answer's bytes, then more of them without end (a
    /// broken proxy or server), until the client gives up or 4 GiB have been sent. Default 0.
    public var endlessRate: Double = 0
    /// Share of faces whose `user_data` is sent damaged, every time (a buggy API release): a lone
    /// surrogate escape (`\ud800`) or a byte that is not UTF-8 (0xFF) before the text, half of
    /// each, chosen by the face's token. Default 0.
    public var damagedTextRate: Double = 0
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
    /// The API going down and coming back, as in a vendor's deploy. Default none.
    public var outage: Outage?
    /// The rate limit changing while a run goes on, as when the vendor lowers an account's quota. Default none.
    public var limitChange: LimitChange?

    /// From one call on, every call fails for a while.
    public struct Outage: Sendable, Hashable {
        /// How a call fails during the outage.
        public enum Kind: String, Sendable, Hashable, CaseIterable {
            /// The connection is reset before any answer.
            case reset
            /// `503 Service Unavailable`, plain text, as a load balancer answers.
            case unavailable
        }

        /// The outage begins at this call (counting every call from 1).
        public var fromCall: Int
        /// Seconds it lasts, on the simulator's clock (``SimulatorConfiguration/monotonicClock``).
        public var seconds: Double
        /// How calls fail meanwhile. Default reset.
        public var kind: Kind = .reset

        /// Creates an outage.
        public init(fromCall: Int, seconds: Double, kind: Kind = .reset) {
            self.fromCall = fromCall
            self.seconds = seconds
            self.kind = kind
        }
    }

    /// A new ``FaultPlan/requestsPerSecondLimit`` from some time after the first call.
    public struct LimitChange: Sendable, Hashable {
        /// Seconds after the first call.
        public var afterSeconds: Double
        /// The limit from then on.
        public var requestsPerSecond: Int

        /// Creates a change.
        public init(afterSeconds: Double, requestsPerSecond: Int) {
            self.afterSeconds = afterSeconds
            self.requestsPerSecond = requestsPerSecond
        }
    }

    /// No faults.
    public init() {}

    /// Whether any fault is planned.
    public var isEmpty: Bool { self == FaultPlan() }
}
