import FaceSearch
import Logging

/// Runs one API call with the stage's retry policy: retries what is retryable, raises the run's stop
/// signal on what is fatal for the run, and gives up on what is fatal for the library.
struct CallRetrier: Sendable {
    enum Outcome<Value> {
        case success(Value)
        case failure(FaceSearchError)
        case stopped
    }

    let policy: RetryPolicy
    let clock: any PipelineClock
    let stop: StopSignal
    let logger: Logger

    /// - Parameter counted: told of every attempt, and whether it is a retry.
    @available(*, noasync)
    func perform<Value>(
        _ call: () throws(FaceSearchError) -> Value,
        counted: (_ isRetry: Bool) -> Void
    ) -> Outcome<Value> {
        var attempt = 0
        var expiredInARow = 0
        while true {
            if self.stop.isRaised { return .stopped }
            attempt += 1
            counted(attempt > 1)
            let error: FaceSearchError
            do {
                return .success(try call())
            } catch let caught {
                error = caught
            }
            switch error.disposition {
            case .fatalForRun:
                self.stop.raise(Self.explain(error))
                return .failure(error)
            case .fatalForGroup:
                return .failure(error)
            case .retryable:
                if error.isExpiredSignature {
                    expiredInARow += 1
                    // A fresh signature that expires at once means the clocks disagree: retrying won't help.
                    if expiredInARow >= 2 {
                        self.stop.raise(Self.explain(error))
                        return .failure(error)
                    }
                } else {
                    expiredInARow = 0
                }
                guard attempt < self.policy.maxAttempts else { return .failure(error) }
                let delay = self.policy.delay(beforeRetry: attempt, unit: Double.random(in: 0..<1))
                self.logger.debug(
                    "retrying",
                    metadata: ["error": "\(error)", "attempt": "\(attempt)", "delay_s": "\(delay)"]
                )
                self.clock.sleep(seconds: delay, unless: self.stop)
            }
        }
    }

    private static func explain(_ error: FaceSearchError) -> String {
        "the API refused the run: \(error)" + (error.hint.map { " — \($0)" } ?? "")
    }
}
