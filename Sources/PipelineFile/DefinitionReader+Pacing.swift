import ExportPipeline
import ExportSinks
import Foundation
import Yams

/// How fast and how often calls are made: `retry` and `rate_limit`.
extension DefinitionReader {
    func retry(_ node: Node) throws(PipelineFileError) -> (RetryPolicy, RetryBudget.Configuration) {
        let entries = try self.mapping(node, "retry", allowed: ["max_attempts", "base_delay", "max_delay", "budget"])
        var policy = RetryPolicy()
        var budget = RetryBudget.Configuration()
        if let node = entries["budget"] { budget.capacity = try self.integer(node, "retry.budget", in: 0...1_000_000) }
        if let node = entries["max_attempts"] {
            policy.maxAttempts = try self.integer(node, "retry.max_attempts", in: 1...100)
        }
        if let node = entries["base_delay"] { policy.baseDelay = try self.seconds(node, "retry.base_delay") }
        if let node = entries["max_delay"] { policy.maxDelay = try self.seconds(node, "retry.max_delay") }
        if policy.maxDelay < policy.baseDelay, let node = entries["max_delay"] {
            throw self.fail(node, "retry.max_delay", "must not be smaller than retry.base_delay")
        }
        return (policy, budget)
    }

    func rateLimit(_ node: Node) throws(PipelineFileError) -> RateLimitConfiguration {
        let allowed: Set<String> = ["mode", "requests_per_second", "max_requests_per_second", "burst", "max_in_flight"]
        let entries = try self.mapping(node, "rate_limit", allowed: allowed)
        var configuration = RateLimitConfiguration()
        if let node = entries["mode"] {
            let text = try self.string(node, "rate_limit.mode")
            guard let mode = RateLimitConfiguration.Mode(rawValue: text) else {
                throw self.fail(node, "rate_limit.mode", "'\(text)' is not one of adaptive, fixed")
            }
            configuration.mode = mode
        }
        if let node = entries["requests_per_second"] {
            configuration.requestsPerSecond = try self.positiveNumber(
                node,
                "rate_limit.requests_per_second",
                of: "requests per second"
            )
        }
        if let node = entries["max_requests_per_second"] {
            configuration.maxRequestsPerSecond = try self.positiveNumber(
                node,
                "rate_limit.max_requests_per_second",
                of: "requests per second"
            )
            if configuration.maxRequestsPerSecond < configuration.requestsPerSecond {
                throw self.fail(
                    node,
                    "rate_limit.max_requests_per_second",
                    "must not be below rate_limit.requests_per_second"
                )
            }
        }
        if let node = entries["burst"] {
            configuration.burst = try self.integer(node, "rate_limit.burst", in: 1...10_000)
        }
        if let node = entries["max_in_flight"] {
            configuration.maxInFlight = try self.integer(node, "rate_limit.max_in_flight", in: 1...10_000)
        }
        return configuration
    }
}
