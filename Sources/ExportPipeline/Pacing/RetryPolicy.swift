/// How often and how patiently a failed call is tried again.
///
/// Delays grow exponentially with "full jitter" (a uniform draw between zero and the exponential
/// bound), which spreads the retries of many workers instead of synchronising them.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts per call, the first included. Default 6.
    public var maxAttempts: Int = 6
    /// The bound of the first retry's delay, in seconds. Default 0.25.
    public var baseDelay: Double = 0.25
    /// The largest delay, in seconds. Default 20.
    public var maxDelay: Double = 20

    /// Creates a policy with the defaults.
    public init() {}

    /// Creates a policy.
    public init(maxAttempts: Int, baseDelay: Double, maxDelay: Double) {
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// The upper bound of the delay before retry number `retry` (1 for the first retry).
    public func delayBound(beforeRetry retry: Int) -> Double {
        let exponent = Double(min(max(retry - 1, 0), 62))
        return min(self.maxDelay, self.baseDelay * pow2(exponent))
    }

    /// The delay before retry number `retry`, given a uniform draw `unit` in [0, 1).
    public func delay(beforeRetry retry: Int, unit: Double) -> Double {
        self.delayBound(beforeRetry: retry) * min(max(unit, 0), 1)
    }

    private func pow2(_ exponent: Double) -> Double {
        var value = 1.0
        for _ in 0..<Int(exponent) { value *= 2 }
        return value
    }
}
