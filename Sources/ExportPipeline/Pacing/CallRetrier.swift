import FaceSearch
import Logging
import Synchronization

/// An account as the stages see it: its client, and the pacing and retry allowance all of its
/// workers share.
struct AccountContext: Sendable {
    let name: String
    let client: FaceSearchClient
    let limiter: AccountRateLimiter
    let budget: RetryBudget
    let health: AccountHealth
    /// Whether `get_size` is available to the account's key.
    let sizeCall: CallAvailability
}

/// Whether an optional call (`get_size`) is available to an account's key: found out once, said once.
final class CallAvailability: Sendable {
    private let reason = Mutex<String?>(nil)

    /// Whether the call was found unavailable.
    var isUnavailable: Bool { self.reason.withLock { $0 != nil } }

    /// The API refused the call to this key; the first time, says so in the log.
    func unavailable(_ error: FaceSearchError, logger: Logger) {
        let first = self.reason.withLock { reason -> Bool in
            defer { reason = reason ?? error.description }
            return reason == nil
        }
        guard first else { return }
        logger.warning(
            "get_size is not available to this key; libraries are walked to their end and marked unverified",
            metadata: ["error": "\(error)"]
        )
    }
}

/// Runs one API call with the stage's retry policy, under the account's pacing: retries what is
/// retryable while the account's budget allows, raises the run's stop signal on what is fatal for
/// the run, and gives up on what is fatal for the library.
///
/// Throttling (`CONCURRENCY_LIMIT_EXCEEDED`, 403 or 429) slows the export and never fails it: a
/// throttled call is not spent from `max_attempts` or the retry budget; it waits for the account's
/// limiter (which the throttle cut) and goes again, for as long as the deadline allows and the API
/// admits some call of the account within the outage tolerance. A call that fails at the connection
/// level for all its attempts, while no other call of the account was answered, puts the account in
/// an outage (``OutageStateMachine``): its workers wait while one call probes, and go on when it is
/// answered.
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
    /// disagree), and whether a call rides out throttling and outages. Not for single attempts made
    /// on the side. Default true.
    var persists = true
    /// Whether a call the key may not make (``FaceSearch/FaceSearchError/isCallUnavailable``) is
    /// returned as a failure instead of stopping the run: for optional calls. Default false.
    var sparesUnavailableCalls = false

    /// - Parameter counted: told of every attempt, and whether it is a retry.
    @available(*, noasync)
    func perform<Value>(
        _ call: () throws(FaceSearchError) -> Value,
        account: AccountContext,
        counted: (_ isRetry: Bool) -> Void
    ) -> Outcome<Value> {
        var attempt = 0
        var sent = 0
        var throttledInARow = 0
        var expiredInARow = 0
        // A round is `max_attempts` attempts; a call unreachable for two rounds while others are
        // answered fails on its own, one unreachable for a round while nothing is answered is an outage.
        var roundBegan = self.clock.now()
        var rounds = 1
        while true {
            if let deadline = self.deadline, self.clock.now() >= deadline {
                self.stop.raise("the run's deadline passed before every library was exported")
            }
            // A call on the side does not wait out an outage, nor probe.
            if !self.persists && account.health.isDown { return .failure(.transport("the API is down", call: "-")) }
            var probing = false
            switch account.health.admit(now: self.clock.now()) {
            case .go:
                break
            case .probe(let at):
                let wait = at - self.clock.now()
                if wait > 0 { self.clock.sleep(seconds: wait, unless: self.stop) }
                probing = true
            case .wait:
                account.health.waitForProbe(unless: self.stop)
                if self.stop.isRaised { return .stopped }
                continue
            case .giveUp(let downFor):
                return self.giveUp(
                    "the API could not be reached from account '\(account.name)'",
                    for: downFor,
                    account: account,
                    advice: "run again with --resume when it is back"
                )
            }
            guard account.limiter.acquire(unless: self.stop) else {
                if probing { account.health.probeFailed(now: self.clock.now()) }
                return .stopped
            }
            attempt += 1
            sent += 1
            counted(sent > 1)
            let error: FaceSearchError
            do {
                let value = try call()
                account.limiter.finished(.admitted)
                account.health.answered(now: self.clock.now())
                self.ledger.attemptEnded("ok", throttled: false)
                if sent == 1 { account.budget.refund() }
                return .success(value)
            } catch let caught {
                error = caught
                let end: AccountRateLimiter.CallEnd =
                    error.isRateLimited
                    ? .throttled(retryAfter: error.retryAfter) : error.isUnreachable ? .unanswered : .admitted
                account.limiter.finished(end)
                if error.isUnreachable {
                    if probing { account.health.probeFailed(now: self.clock.now()) }
                } else {
                    account.health.answered(now: self.clock.now())
                }
                let outcome: String
                switch error.disposition {
                case .retryable: outcome = "retryable_error"
                case .fatalForGroup: outcome = "group_error"
                case .fatalForRun: outcome = "run_error"
                }
                self.ledger.attemptEnded(outcome, throttled: error.isRateLimited)
            }
            if probing {
                // The probe's own failures are the outage's, not the call's: it goes on probing.
                attempt = 0
                roundBegan = self.clock.now()
                if error.isUnreachable { continue }
            }
            if error.isRateLimited && self.persists {
                // Throttling slows the export; it is not spent from the attempts or the budget. The
                // limiter has cut the account's rate (or holds the Retry-After); a fixed rate backs off here.
                attempt -= 1
                throttledInARow += 1
                let throttledFor = account.limiter.secondsSinceAdmitted()
                if throttledFor > account.health.tolerance {
                    return self.giveUp(
                        "the API throttled every call of account '\(account.name)'",
                        for: throttledFor,
                        account: account,
                        advice: "lower rate_limit.max_in_flight or run again later with --resume"
                    )
                }
                if error.retryAfter == nil && !account.limiter.adapts {
                    let delay = self.policy.delay(beforeRetry: min(throttledInARow, 8), unit: Double.random(in: 0..<1))
                    self.clock.sleep(seconds: delay, unless: self.stop)
                }
                continue
            }
            throttledInARow = 0
            switch error.disposition {
            case .fatalForRun where self.sparesUnavailableCalls && error.isCallUnavailable:
                return .failure(error)
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
            let exhausted = attempt >= self.policy.maxAttempts
            if exhausted && expiredInARow == attempt && self.persists {
                // Every fresh signature expired at once: the clocks disagree, and no call can succeed.
                self.stop.raise(Self.explain(error))
                return .failure(error)
            }
            let affordable = !exhausted && account.budget.withdraw(afterTimeout: error.isTimeout)
            if !affordable {
                if self.persists && error.isUnreachable {
                    if account.health.unreachable(now: self.clock.now(), callBegan: roundBegan) {
                        // Nothing of the account was answered during this round: the API is down.
                        self.logger.warning(
                            "the API does not answer; waiting for it to come back",
                            metadata: ["account": "\(account.name)", "error": "\(error)"]
                        )
                        attempt = 0
                        continue
                    }
                    if rounds == 1 {
                        // Others were answered meanwhile, perhaps calls sent before an outage began: once more.
                        rounds += 1
                        attempt = 0
                        roundBegan = self.clock.now()
                        continue
                    }
                }
                if !exhausted {
                    self.logger.warning(
                        "retry budget exhausted: failing without retry",
                        metadata: ["account": "\(account.name)"]
                    )
                }
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

    /// The same, for an optional call: see ``sparesUnavailableCalls``.
    var sparingUnavailableCalls: CallRetrier {
        var retrier = self
        retrier.sparesUnavailableCalls = true
        return retrier
    }

    /// The same, making each call once: for calls whose failure costs nothing but a shortcut.
    var once: CallRetrier {
        var retrier = self
        retrier.policy.maxAttempts = 1
        retrier.persists = false
        return retrier
    }

    /// Stops the run, keeping its progress for `--resume`: the API has not let the account through for
    /// longer than its outage tolerance.
    private func giveUp<Value>(
        _ what: String,
        for seconds: Double,
        account: AccountContext,
        advice: String
    ) -> Outcome<Value> {
        self.stop.raise(
            "\(what) for \(Int(seconds)) s (outage_tolerance \(Int(account.health.tolerance)) s); "
                + "nothing was committed — \(advice)",
            resumable: true
        )
        return .stopped
    }

    private static func explain(_ error: FaceSearchError) -> String {
        let what = error.httpStatus == nil ? "cannot call the API" : "the API refused the run"
        return "\(what): \(error)" + (error.hint.map { " — \($0)" } ?? "")
    }
}
