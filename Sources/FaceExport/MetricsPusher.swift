public import ExportPipeline
public import Foundation
public import Logging
import Synchronization
public import Transport

/// Pushes a run's metrics to a Prometheus Pushgateway, as batch jobs do: every `interval` while the
/// run goes on, and once at its end.
///
/// Pushes are `POST`s to the grouping key `job`/`pipeline`[/`shard`], so each replaces the families
/// it carries and keeps the others: `faceexport_last_success_timestamp_seconds`, pushed only by a
/// complete run, survives the failed runs after it. A push that fails is a warning: metrics never
/// fail an export.
public final class MetricsPusher: Sendable {
    /// Where pushes go: the Pushgateway's root and the grouping key's path under it.
    public let address: URL
    private let interval: Double
    private let transport: any HTTPTransport
    private let clock: any PipelineClock
    private let logger: Logger
    private let stopped = StopSignal()
    private let loopEnded = Mutex<DispatchSemaphore?>(nil)

    /// A pusher to the Pushgateway at `root`, grouped by `job`, `pipeline` and `shard` (when the run
    /// exports one).
    public init(
        root: URL,
        job: String,
        pipeline: String,
        shard: Shard?,
        interval: Double,
        transport: any HTTPTransport,
        clock: any PipelineClock = SystemClock(),
        logger: Logger
    ) {
        var grouping = [("job", job), ("pipeline", pipeline)]
        if let shard { grouping.append(("shard", "\(shard.index)/\(shard.count)")) }
        var address = root
        address.append(path: "metrics", directoryHint: .notDirectory)
        // Every value in base64 (RFC 4648 §5): any name, a slash or an empty one travel unchanged.
        for (name, value) in grouping {
            address.append(path: name + "@base64", directoryHint: .notDirectory)
            address.append(path: Self.base64URL(value), directoryHint: .notDirectory)
        }
        self.address = address
        self.interval = interval
        self.transport = transport
        self.clock = clock
        self.logger = logger
    }

    /// Pushes `metrics`; false (and a warning logged) when the Pushgateway did not take them.
    @discardableResult
    public func push(_ metrics: RunMetrics) -> Bool {
        let request = TransportRequest(
            method: "POST",
            url: self.address,
            contentType: "text/plain; version=0.0.4; charset=utf-8",
            body: Data(metrics.text.utf8)
        )
        let problem: String
        switch self.transport.sendAndWait(request) {
        case .success(let response) where (200..<300).contains(response.status):
            return true
        case .success(let response):
            let said =
                String(decoding: response.body.prefix(300), as: UTF8.self)
                .split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            // The Pushgateway says what it refused in plain text; a page of HTML from something
            // else at that address says nothing in one line.
            let shown = said.hasPrefix("<") ? "" : said
            problem = "HTTP \(response.status)\(shown.isEmpty ? "" : ": \(shown)")"
        case .failure(let failure):
            problem = "\(failure)"
        }
        self.logger.warning(
            "the Pushgateway did not take the run's metrics; the export is not affected",
            metadata: ["pushgateway": "\(self.address.host ?? "")", "reason": "\(problem)"]
        )
        return false
    }

    /// Pushes the figures `progress` gives every `interval` seconds, on a thread of its own, until
    /// ``finish(with:)``.
    public func start(progress: @escaping @Sendable () -> RunProgress) {
        let ended = DispatchSemaphore(value: 0)
        self.loopEnded.withLock { $0 = ended }
        let started = self.clock.now()
        let thread = Thread { [self] in
            while true {
                self.clock.sleep(seconds: self.interval, unless: self.stopped)
                if self.stopped.isRaised { break }
                let elapsed = self.clock.now() - started
                self.push(.running(progress(), elapsed: elapsed, now: Date()))
            }
            ended.signal()
        }
        thread.name = "faceexport.metrics-push"
        thread.start()
    }

    /// Stops the pushes during the run (waiting for one under way) and pushes `metrics`, the run's
    /// last figures, trying once more a second later if the Pushgateway did not take them.
    public func finish(with metrics: RunMetrics) {
        self.stopped.raise("the run has ended")
        self.loopEnded.withLock { $0 }?.wait()
        if !self.push(metrics) {
            self.clock.sleep(seconds: 1, unless: StopSignal())
            self.push(metrics)
        }
    }

    private static func base64URL(_ text: String) -> String {
        let encoded = Data(text.utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        return encoded.isEmpty ? "=" : encoded
    }
}
