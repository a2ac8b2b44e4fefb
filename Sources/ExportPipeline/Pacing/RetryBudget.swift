import Synchronization

/// An account's allowance of retries, as the AWS SDKs' retry quota: retries spend tokens, calls
/// that succeed at the first attempt earn one back. When the API keeps failing the allowance runs
/// out and calls fail at their first error instead of being retried forever: a circuit breaker.
public final class RetryBudget: Sendable {
    /// How the allowance is sized.
    public struct Configuration: Sendable, Hashable {
        /// Tokens when full. Default 500.
        public var capacity = 500
        /// Tokens a retry costs. Default 5.
        public var retryCost = 5
        /// Tokens a retry after a timeout costs: timeouts hint at an overloaded API. Default 10.
        public var timeoutRetryCost = 10

        /// Creates the defaults.
        public init() {}
    }

    private let configuration: Configuration
    private let tokens: Mutex<Int>

    /// Creates a full budget.
    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
        self.tokens = Mutex(configuration.capacity)
    }

    /// Takes the cost of one retry; false when the budget cannot pay it (the circuit is open).
    public func withdraw(afterTimeout: Bool) -> Bool {
        let cost = afterTimeout ? self.configuration.timeoutRetryCost : self.configuration.retryCost
        return self.tokens.withLock { tokens in
            guard tokens >= cost else { return false }
            tokens -= cost
            return true
        }
    }

    /// A call succeeded at its first attempt.
    public func refund() {
        self.tokens.withLock { $0 = min(self.configuration.capacity, $0 + 1) }
    }

    /// Tokens left.
    public var available: Int { self.tokens.withLock { $0 } }
}
