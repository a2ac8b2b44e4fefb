import Foundation

/// Whether one account's API can be reached, shared by every worker of the account: the
/// ``OutageStateMachine`` behind a lock, and a place for workers to wait while one call probes.
final class AccountHealth: @unchecked Sendable {
    // `machine` is read and written only while `condition` is locked.
    private let condition = NSCondition()
    private var machine: OutageStateMachine

    init(tolerance: Double, now: Double) {
        self.machine = OutageStateMachine(tolerance: tolerance, now: now)
    }

    /// Seconds the account may stay unreachable before the run gives up.
    var tolerance: Double { self.locked { $0.tolerance } }

    /// Whether the account is in an outage.
    var isDown: Bool { self.locked { $0.isDown } }

    func admit(now: Double) -> OutageStateMachine.Admission { self.locked { $0.admit(now: now) } }

    /// Called for every answered call: wakes the waiting workers only when it ends an outage.
    func answered(now: Double) {
        self.changing { machine in
            let wasDown = machine.isDown
            machine.answered(now: now)
            return wasDown
        }
    }

    func probeFailed(now: Double) {
        self.changing { machine in
            machine.probeFailed(now: now)
            return true
        }
    }

    /// See ``OutageStateMachine/unreachable(now:callBegan:)``.
    func unreachable(now: Double, callBegan began: Double) -> Bool {
        self.locked { $0.unreachable(now: now, callBegan: began) }
    }

    /// Blocks until the probe in flight has answered or failed, or `stop` is raised.
    @available(*, noasync)
    func waitForProbe(unless stop: StopSignal) {
        self.condition.lock()
        defer { self.condition.unlock() }
        let generation = self.changes
        // Real time bounds each wait only so that a raised stop is noticed; the probe's news wakes it.
        while self.changes == generation && !stop.isRaised {
            _ = self.condition.wait(until: Date(timeIntervalSinceNow: 0.2))
        }
    }

    private var changes = 0

    private func locked<T>(_ body: (inout OutageStateMachine) -> T) -> T {
        self.condition.lock()
        defer { self.condition.unlock() }
        return body(&self.machine)
    }

    /// Runs `body` under the lock; when it says the outage changed, the waiting workers look again.
    private func changing(_ body: (inout OutageStateMachine) -> Bool) {
        self.condition.lock()
        if body(&self.machine) {
            self.changes += 1
            self.condition.broadcast()
        }
        self.condition.unlock()
    }
}
