import FaceSearch
import Logging

/// An account as the stages see it: its client, and the pacing and retry allowance all of its
/// workers share.
struct AccountContext: Sendable {
    let name: String
    let client: FaceSearchClient
    let limiter: AccountRateLimiter
    let budget: RetryBudget
}

/// Runs one API call with the stage's retry policy, under the account's pacing: retries what is
/// retryable while the account's budget allows, raises the run's stop signal on what is fatal for
/// the run, and gives up on what is fatal for the library.
struct CallRetrier: Sendable {
    enum Outcome<Value> {
        case success(Value)
        case failure(FaceSearchError)
        case stopped
    }

    private(set) var policy: RetryPolicy
    let clock: any PipelineClock
    let stop: StopSignal
    /// Clock reading after which no call starts (the run's deadline), if any.
    let deadline: Double?
    let ledger: RunLedger
    let logger: Logger
    /// Whether a call whose every attempt met an expired signature stops the run (the clocks
    /// disagree). Not for single attempts made on the side. Default true.
    var judgesClock = true

    /// - Parameter counted: told of every attempt, and whether it is a retry.
    @available(*, noasync)
    func perform<Value>(
        _ call: () throws(FaceSearchError) -> Value,
        account: AccountContext,
        counted: (_ isRetry: Bool) -> Void
    ) -> Outcome<Value> {
        var attempt = 0
        var expiredInARow = 0
        while true {
            if let deadline = self.deadline, self.clock.now() >= deadline {
                self.stop.raise("the run's deadline passed before every library was exported")
            }
            guard account.limiter.acquire(unless: self.stop) else { return .stopped }
            attempt += 1
            counted(attempt > 1)
            let error: FaceSearchError
            do {
                let value = try call()
                account.limiter.finished(throttled: false, retryAfter: nil)
                self.ledger.attemptEnded("ok", throttled: false)
                if attempt == 1 { account.budget.refund() }
                return .success(value)
            } catch let caught {
                error = caught
                account.limiter.finished(throttled: error.isRateLimited, retryAfter: error.retryAfter)
                let outcome: String
                switch error.disposition {
                case .retryable: outcome = "retryable_error"
                case .fatalForGroup: outcome = "group_error"
                case .fatalForRun: outcome = "run_error"
                }
                self.ledger.attemptEnded(outcome, throttled: error.isRateLimited)
            }
            switch error.disposition {
            case .fatalForRun:
                self.stop.raise(Self.explain(error))
                return .failure(error)
            case .fatalForGroup:
                return .failure(error)
            case .retryable:
                break
            }
            if error.isExpiredSignature {
                expiredInARow += 1
                if expiredInARow > 1 {
                    self.logger.warning(
                        "a freshly signed call expired again: check this machine's clock",
                        metadata: ["account": "\(account.name)", "in_a_row": "\(expiredInARow)"]
                    )
                }
            } else {
                expiredInARow = 0
            }
            guard attempt < self.policy.maxAttempts else {
                if expiredInARow == attempt && self.judgesClock {
                    // Every fresh signature expired at once: the clocks disagree, and no call can succeed.
                    self.stop.raise(Self.explain(error))
                }
                return .failure(error)
            }
            guard account.budget.withdraw(afterTimeout: error.isTimeout) else {
                self.logger.warning(
                    "retry budget exhausted: failing without retry",
                    metadata: ["account": "\(account.name)"]
                )
                return .failure(error)
            }
            // A Retry-After is kept by the limiter, which every worker of the account shares.
            if error.retryAfter == nil {
                let delay = self.policy.delay(beforeRetry: attempt, unit: Double.random(in: 0..<1))
                self.logger.debug(
                    "retrying",
                    metadata: ["error": "\(error)", "attempt": "\(attempt)", "delay_s": "\(delay)"]
                )
                self.clock.sleep(seconds: delay, unless: self.stop)
            }
        }
    }

    /// The same, making each call once: for calls whose failure costs nothing but a shortcut.
    var once: CallRetrier {
        var policy = self.policy
        policy.maxAttempts = 1
        var retrier = self
        retrier.policy = policy
        retrier.judgesClock = false
        return retrier
    }

    private static func explain(_ error: FaceSearchError) -> String {
        "the API refused the run: \(error)" + (error.hint.map { " — \($0)" } ?? "")
    }
}
