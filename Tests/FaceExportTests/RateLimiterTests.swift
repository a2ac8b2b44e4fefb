import ExportPipeline
import Testing

struct RateLimiterStateMachineTests {
    /// Reserves `count` calls at `now`, as if every caller arrived at once; returns their send times.
    private func sendTimes(_ machine: inout RateLimiterStateMachine, count: Int, at now: Double) -> [Double] {
        (0..<count).map { _ in now + machine.reserve(now: now) }
    }

    @Test func fixedRateSpacesCallsEvenlyAfterTheBurst() {
        var machine = RateLimiterStateMachine(configuration: .fixed(20, burst: 3), now: 100)
        let times = self.sendTimes(&machine, count: 7, at: 100)
        let expected = [100, 100, 100, 100.05, 100.10, 100.15, 100.20]
        for (time, want) in zip(times, expected) { #expect(abs(time - want) < 1e-9, "\(times)") }
        // Over a long stretch the rate is exactly the configured one.
        var steady = RateLimiterStateMachine(configuration: .fixed(20), now: 0)
        let last = self.sendTimes(&steady, count: 201, at: 0).last!
        #expect(abs(last - 10) < 1e-9)
    }

    @Test func anIdleBucketRefillsOnlyUpToTheBurst() {
        var machine = RateLimiterStateMachine(configuration: .fixed(10, burst: 2), now: 0)
        _ = self.sendTimes(&machine, count: 2, at: 0)
        // Long idle: two may go at once again, not twenty.
        let times = self.sendTimes(&machine, count: 4, at: 50)
        #expect(times.map { ($0 * 1000).rounded() / 1000 } == [50, 50, 50.1, 50.2])
    }

    @Test func retryAfterHoldsEveryReservationUntilItsTime() {
        var machine = RateLimiterStateMachine(configuration: .fixed(100), now: 0)
        machine.pause(until: 7.5)
        #expect(abs(machine.reserve(now: 1) - 6.5) < 1e-9)
        #expect(abs(machine.reserve(now: 1) - 6.51) < 1e-9)
    }

    @Test func adaptiveSlowStartDoublesUntilTheFirstThrottle() {
        var configuration = RateLimitConfiguration()
        configuration.requestsPerSecond = 5
        configuration.maxRequestsPerSecond = 1000
        let machine = RateLimiterStateMachine(configuration: configuration, now: 0)
        #expect(abs(machine.rate(at: 0) - 5) < 1e-9)
        #expect(abs(machine.rate(at: 2) - 10) < 1e-9)
        #expect(abs(machine.rate(at: 6) - 40) < 1e-9)
        #expect(machine.rate(at: 60) == 1000, "never above the ceiling")
    }

    @Test func adaptiveCutsRecoversAndProbes() {
        var configuration = RateLimitConfiguration()
        configuration.requestsPerSecond = 5
        configuration.maxRequestsPerSecond = 1000
        var machine = RateLimiterStateMachine(configuration: configuration, now: 0)
        // Throttled at 4 s, when the rate was 20: cut to 18.
        machine.throttled(now: 4)
        #expect(abs(machine.rate(at: 4) - 18) < 1e-9)
        // A storm of throttles within the cool-down is one event.
        machine.throttled(now: 4.2)
        machine.throttled(now: 4.9)
        #expect(abs(machine.rate(at: 4.9) - (18 + 2 * 0.9 / 2)) < 1e-9)
        // Back at the last ceiling after the recovery time, then probing 4% of it per second.
        #expect(abs(machine.rate(at: 6) - 20) < 1e-9)
        #expect(abs(machine.rate(at: 11) - 20 * 1.2) < 1e-9)
        // The next throttle, at 24/s, remembers 24 and cuts to 21.6.
        machine.throttled(now: 11)
        #expect(abs(machine.rate(at: 11) - 21.6) < 1e-9)
    }

    @Test func adaptiveRateStaysWithinItsBounds() {
        var configuration = RateLimitConfiguration()
        configuration.requestsPerSecond = 1
        configuration.minRequestsPerSecond = 0.5
        configuration.maxRequestsPerSecond = 3
        var machine = RateLimiterStateMachine(configuration: configuration, now: 0)
        for second in 0..<10 { machine.throttled(now: Double(second) * 1.5) }
        #expect(machine.rate(at: 15) >= 0.5)
        #expect(machine.rate(at: 1000) == 3)
    }

    @Test func fixedModeIgnoresThrottles() {
        var machine = RateLimiterStateMachine(configuration: .fixed(20), now: 0)
        machine.throttled(now: 1)
        #expect(machine.rate(at: 1) == 20)
    }
}

struct RetryBudgetTests {
    @Test func retriesSpendAndFirstTimeSuccessesRefund() {
        var configuration = RetryBudget.Configuration()
        configuration.capacity = 12
        let budget = RetryBudget(configuration: configuration)
        #expect(budget.withdraw(afterTimeout: false))
        #expect(budget.available == 7)
        #expect(!budget.withdraw(afterTimeout: true), "a timeout retry costs 10")
        #expect(budget.withdraw(afterTimeout: false))
        #expect(!budget.withdraw(afterTimeout: false), "the circuit is open")
        for _ in 0..<20 { budget.refund() }
        #expect(budget.available == 12, "refunds stop at the capacity")
    }
}
