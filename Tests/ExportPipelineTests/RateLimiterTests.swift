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

    private func adaptive(start: Double, maxInFlight: Int = 16) -> RateLimiterStateMachine {
        var configuration = RateLimitConfiguration()
        configuration.requestsPerSecond = start
        configuration.maxRequestsPerSecond = 100_000
        configuration.maxInFlight = maxInFlight
        return RateLimiterStateMachine(configuration: configuration, now: 0)
    }

    @Test func aThrottleCutsToAShareOfWhatTheAPIAdmittedNotOfTheRateConfigured() {
        // Configured at 1,000 calls/s; the API admitted 20 in the last second, then throttled.
        var machine = self.adaptive(start: 1000)
        for index in 0..<20 { _ = machine.admitted(now: 10.1 + Double(index) * 0.04) }
        machine.throttled(now: 11)
        #expect(abs(machine.rate(at: 11) - 18) < 1e-9, "90% of the 20 admitted, at once: not 90% of 1,000")
        // One cycle is 200 calls at the ceiling (10 s at 20/s): back at 20 after it, then probing slowly.
        #expect(abs(machine.rate(at: 16) - 19) < 1e-9)
        #expect(abs(machine.rate(at: 21) - 20) < 1e-9)
        #expect(abs(machine.rate(at: 31) - 22) < 1e-9, "one cycle of probing adds 10%")
        #expect(abs(machine.rate(at: 41) - 36) < 1e-9, "and grows cubically while nothing throttles")
    }

    @Test func throttlesWithinTheCooldownAreOneCutAndMakeEarlierReservationsStale() {
        var machine = self.adaptive(start: 1000)
        for index in 0..<50 { _ = machine.admitted(now: 0.005 + Double(index) * 0.02) }
        let before = machine.generation
        _ = machine.reserve(now: 1)
        machine.throttled(now: 1)
        machine.throttled(now: 1.5)
        #expect(machine.generation == before + 1, "a storm of throttles within a second is one event")
        #expect(abs(machine.rate(at: 1.5) - (45 + 5 * 0.5 / (200.0 / 50))) < 1e-9, "50 admitted in the last second")
        // After the cut, calls leave at the new rate from now on.
        #expect(abs(machine.reserve(now: 1.5) - 0) < 1e-9)
        #expect(abs(machine.reserve(now: 1.5) - 1 / machine.rate(at: 1.5)) < 1e-9)
    }

    @Test func afterABurstNoCallGoesUntilTheBurstHasLeftTheAPIsWindow() {
        // Started far above the limit: 20 calls admitted within 20 ms, then a throttle.
        var machine = self.adaptive(start: 1000)
        for index in 0..<20 { _ = machine.admitted(now: 5 + Double(index) * 0.001) }
        machine.throttled(now: 5.02)
        #expect(abs(machine.reserve(now: 5.02) - 0.98) < 1e-9, "the API's second is full until 6.0")
    }

    @Test func aLowLimitIsProbedAsRarelyPerCallAsAHighOne() {
        var machine = self.adaptive(start: 1000)
        _ = machine.admitted(now: 0.2)
        _ = machine.admitted(now: 0.7)
        machine.throttled(now: 1)
        #expect(abs(machine.rate(at: 1) - 1.8) < 1e-9)
        // At 2 calls/s a cycle of 200 calls is 100 s: the ceiling comes back only then.
        #expect(abs(machine.rate(at: 51) - 1.9) < 1e-9)
        #expect(abs(machine.rate(at: 101) - 2) < 1e-9)
    }

    @Test func adaptiveSlowStartDoublesUntilTheFirstThrottle() {
        let machine = self.adaptive(start: 5)
        #expect(abs(machine.rate(at: 0) - 5) < 1e-9)
        #expect(abs(machine.rate(at: 2) - 10) < 1e-9)
        #expect(abs(machine.rate(at: 6) - 40) < 1e-9)
    }

    @Test func callsInFlightStartAtTwoAndGrowWithEveryAdmittedCall() {
        var machine = self.adaptive(start: 1000, maxInFlight: 4)
        #expect(machine.inFlightWindow == 2)
        let grew = [machine.admitted(now: 0.1), machine.admitted(now: 0.2), machine.admitted(now: 0.3)]
        #expect(grew == [true, true, false], "never above max_in_flight")
        #expect(machine.inFlightWindow == 4)
        let fixed = RateLimiterStateMachine(configuration: .fixed(20, maxInFlight: 8), now: 0)
        #expect(fixed.inFlightWindow == 8, "a fixed rate starts with every slot")
    }

    @Test func adaptiveRateStaysWithinItsBounds() {
        var configuration = RateLimitConfiguration()
        configuration.requestsPerSecond = 1
        configuration.minRequestsPerSecond = 0.5
        configuration.maxRequestsPerSecond = 3
        var machine = RateLimiterStateMachine(configuration: configuration, now: 0)
        for second in 0..<10 { machine.throttled(now: Double(second) * 1.5) }
        #expect(machine.rate(at: 15) >= 0.5, "nothing admitted: the floor")
        #expect(machine.rate(at: 100_000) == 3)
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
