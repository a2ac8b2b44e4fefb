import ArgumentParser
import FaceSearchSimulation

/// The simulator's fault flags, shared by `simulate` and `bench`.
struct FaultOptions: ParsableArguments {
    @Option(help: "Seconds added to every answer.")
    var latency: Double = 0

    @Option(help: "± seconds of uniform jitter around --latency.")
    var latencyJitter: Double = 0

    @Option(help: "Share of calls answered 500 INTERNAL_ERROR (0–1).")
    var errorRate: Double = 0

    @Option(help: "Share of calls whose connection is reset (0–1).")
    var resetRate: Double = 0

    @Option(help: "Share of answers cut in half after a full Content-Length (0–1).")
    var truncateRate: Double = 0

    @Option(help: "Share of answers whose body never ends (0–1): a broken proxy or server.")
    var endlessRate: Double = 0

    @Option(help: "Share of faces whose user_data is sent not valid UTF-8, on every call (0–1).")
    var damagedTextRate: Double = 0

    @Option(help: "Share of answers delayed by --slow-delay (0–1).")
    var slowRate: Double = 0

    @Option(help: "Seconds a slow answer waits.")
    var slowDelay: Double = 5

    @Option(help: "Share of calls whose signature is treated as expired (0–1).")
    var expiredSignatureRate: Double = 0

    @Option(help: "Seconds the server's clock runs ahead when it checks signatures.")
    var clockOffset: Int64 = 0

    @Option(help: "Calls per key accepted in any one-second window; more get CONCURRENCY_LIMIT_EXCEEDED.")
    var rateLimit: Int?

    @Option(help: "Calls per key in flight at once; more get CONCURRENCY_LIMIT_EXCEEDED.")
    var inFlightLimit: Int?

    @Option(help: "HTTP status of CONCURRENCY_LIMIT_EXCEEDED: 403 or 429.")
    var limitStatus = 429

    @Option(help: "Seconds sent as Retry-After with CONCURRENCY_LIMIT_EXCEEDED (none by default, as the vendor).")
    var retryAfter: Int?

    @Option(help: "Seed of the fault draws.")
    var faultSeed: UInt64 = 1

    @Option(help: "Go down at this call (counting every call from 1), for --outage-seconds.")
    var outageFromCall: Int?

    @Option(help: "Seconds an outage lasts.")
    var outageSeconds: Double = 60

    @Option(help: "How calls fail during an outage: reset (the connection) or unavailable (503).")
    var outageKind = "reset"

    @Option(help: "Seconds after the first call when --rate-limit becomes --limit-change-to.")
    var limitChangeAfter: Double?

    @Option(help: "The rate limit after --limit-change-after.")
    var limitChangeTo: Int?

    func plan() throws -> FaultPlan {
        for (name, rate) in [
            ("error-rate", self.errorRate), ("reset-rate", self.resetRate), ("truncate-rate", self.truncateRate),
            ("endless-rate", self.endlessRate), ("damaged-text-rate", self.damagedTextRate),
            ("slow-rate", self.slowRate), ("expired-signature-rate", self.expiredSignatureRate),
        ] where !(0...1).contains(rate) {
            throw ValidationError("--\(name) must lie between 0 and 1")
        }
        guard [403, 429].contains(self.limitStatus) else { throw ValidationError("--limit-status must be 403 or 429") }
        var plan = FaultPlan()
        plan.latency = self.latency
        plan.latencyJitter = self.latencyJitter
        plan.errorRate = self.errorRate
        plan.resetRate = self.resetRate
        plan.truncateRate = self.truncateRate
        plan.endlessRate = self.endlessRate
        plan.damagedTextRate = self.damagedTextRate
        plan.slowRate = self.slowRate
        plan.slowDelay = self.slowDelay
        plan.expiredSignatureRate = self.expiredSignatureRate
        plan.requestsPerSecondLimit = self.rateLimit
        plan.inFlightLimit = self.inFlightLimit
        plan.limitStatus = self.limitStatus
        plan.retryAfter = self.retryAfter
        plan.seed = self.faultSeed
        if let call = self.outageFromCall {
            guard let kind = FaultPlan.Outage.Kind(rawValue: self.outageKind) else {
                throw ValidationError("--outage-kind must be reset or unavailable")
            }
            guard call >= 1, self.outageSeconds > 0 else {
                throw ValidationError("--outage-from-call must be 1 or more and --outage-seconds positive")
            }
            plan.outage = FaultPlan.Outage(fromCall: call, seconds: self.outageSeconds, kind: kind)
        }
        switch (self.limitChangeAfter, self.limitChangeTo) {
        case (let after?, let limit?) where after >= 0 && limit >= 1:
            plan.limitChange = FaultPlan.LimitChange(afterSeconds: after, requestsPerSecond: limit)
        case (nil, nil):
            break
        default:
            throw ValidationError(
                "give --limit-change-after (seconds, 0 or more) and --limit-change-to (1 or more) together"
            )
        }
        return plan
    }
}
