import Dispatch
public import ExportSinks
import FaceSearch
import Foundation
public import Logging

/// One export: source → page walker → transformer → sink, joined by bounded queues.
///
/// Each stage runs on its own Dispatch queues: the source and the transformer on one each, the
/// walkers on `concurrency` queues, the sinks on one serial queue. When the last stage has drained,
/// ``run()`` decides the outcome in one place, commits or discards the outputs and returns the report.
///
/// ```swift
/// let context = RunContext(runID: "20261126T010000Z-1a2b3c")
/// let output = OutputSink.Configuration(format: .ndjson, path: try OutputPathTemplate("out/faces.ndjson.gz"))
/// let run = ExportRun(configuration: ExportConfiguration(), context: context,
///                     accounts: [AccountJob(name: "main", client: client, groups: .all)],
///                     sinks: [OutputSink(configuration: output, run: .init(date: "2026-11-26",
///                                                                          runID: context.runID))])
/// let report = run.run()
/// ```
/// ```
public final class ExportRun: Sendable {
    private let configuration: ExportConfiguration
    private let context: RunContext
    private let accounts: [AccountJob]
    private let sinkStage: SinkStage
    private let clock: any PipelineClock
    private let logger: Logger
    /// What the run has done so far: libraries scheduled and walked, faces, pages, retries.
    public var progress: RunProgress {
        let progress = self.ledger.progress
        return RunProgress(
            groupsScheduled: progress.scheduled,
            groupsWalked: progress.walked,
            faces: progress.faces,
            pages: progress.pages,
            retries: progress.retries
        )
    }

    /// Raised to stop the run early; stages stop issuing requests and drain.
    public let stop: StopSignal
    private let ledger: RunLedger

    /// Prepares a run; nothing is called until ``run()``.
    ///
    /// - Important: The run takes the sinks over: it writes, commits or discards them.
    public init(
        configuration: ExportConfiguration,
        context: RunContext,
        accounts: [AccountJob],
        sinks: [any RecordSink],
        stop: StopSignal = StopSignal(),
        clock: any PipelineClock = SystemClock(),
        logger: Logger = Logger(label: "faceexport.pipeline")
    ) {
        precondition(configuration.concurrency > 0 && configuration.queueCapacity > 0)
        precondition((1...1000).contains(configuration.pageSize), "the API allows limit 1 to 1000")
        self.configuration = configuration
        self.context = context
        self.accounts = accounts
        self.clock = clock
        var logger = logger
        logger[metadataKey: "run_id"] = "\(context.runID)"
        self.logger = logger
        let ledger = RunLedger()
        self.stop = stop
        self.ledger = ledger
        self.sinkStage = SinkStage(
            sinks: sinks,
            ledger: ledger,
            stop: stop,
            steps: context.fileSteps,
            storePoints: .init(clock: clock, interval: configuration.storePointInterval)
        )
        self.sinkStage.stateMirror = context.stateMirror
    }

    /// Runs the export to its end and returns what happened.
    @available(*, noasync, message: "blocks until the export ends; call it on a dedicated thread")
    public func run() -> RunReport {
        let started = self.clock.now()
        let startedAt = Self.wallClockNow()
        let retrier = CallRetrier(
            policy: self.configuration.retry,
            clock: self.clock,
            stop: self.stop,
            deadline: self.configuration.deadline.map { started + $0 },
            ledger: self.ledger,
            logger: self.logger
        )
        let accounts = self.accounts.map { job in
            AccountContext(
                name: job.name,
                client: job.client,
                limiter: AccountRateLimiter(configuration: job.rateLimit, clock: self.clock),
                budget: RetryBudget(configuration: job.retryBudget),
                health: AccountHealth(tolerance: self.configuration.outageTolerance, now: started),
                sizeCall: CallAvailability()
            )
        }
        precondition(
            (1...ExportConfiguration.maximumConcurrency).contains(self.configuration.concurrency),
            "concurrency is 1 to \(ExportConfiguration.maximumConcurrency)"
        )
        let groups = BoundedQueue<GroupTask>(capacity: self.configuration.concurrency)
        let faces = BoundedQueue<FaceBatch>(capacity: self.configuration.queueCapacity)
        let records = BoundedQueue<RecordBatch>(capacity: self.configuration.queueCapacity)

        if let path = self.context.journalPath {
            do throws(SinkError) {
                self.sinkStage.journal = try RunJournal(
                    path: path,
                    runID: self.context.runID,
                    date: self.context.date,
                    startedAt: self.context.startedAt,
                    fingerprint: self.context.fingerprint,
                    continuing: self.context.resume,
                    steps: self.context.fileSteps
                )
                if let resume = self.context.resume { try self.sinkStage.resume(resume) }
            } catch {
                let what = self.context.resume == nil ? "keep the run's journal" : "resume the interrupted run"
                self.stop.raise("cannot \(what): \(error)")
            }
        }
        // The consumers first: they hold their threads before the walkers take theirs.
        let transformer = RecordTransformer(transform: self.configuration.transform)
        DispatchQueue(label: "faceexport.transformer").async { transformer.work(input: faces, output: records) }

        let sinkStage = self.sinkStage
        let drained = DispatchSemaphore(value: 0)
        DispatchQueue(label: "faceexport.sink").async {
            sinkStage.work(input: records)
            drained.signal()
        }

        let source = GroupSource(
            accounts: accounts,
            shard: self.configuration.shard,
            resume: self.context.resume,
            selections: self.accounts.map(\.groups),
            ledger: self.ledger,
            retrier: retrier,
            logger: self.logger
        )
        DispatchQueue(label: "faceexport.source").async { source.run(into: groups) }

        let walker = PageWalker(
            pageSize: self.configuration.pageSize,
            onChanged: self.configuration.onChanged,
            ledger: self.ledger,
            retrier: retrier,
            stop: self.stop,
            logger: self.logger,
            prefetch: PrefetchAllowance(width: self.configuration.prefetchWidth ?? self.configuration.concurrency)
        )
        let walkers = DispatchGroup()
        for index in 0..<self.configuration.concurrency {
            DispatchQueue(label: "faceexport.walker.\(index)").async(group: walkers) {
                walker.work(input: groups, output: faces)
            }
        }
        walkers.notify(queue: DispatchQueue(label: "faceexport.walkers-done")) { faces.close() }

        drained.wait()
        return self.conclude(started: started, startedAt: startedAt)
    }

    /// The one place that decides the outcome, commits or discards, writes the manifest, and builds
    /// the report.
    private func conclude(started: Double, startedAt: String) -> RunReport {
        var failure = self.stop.raisedReason
        let (groups, accountErrors) = self.ledger.reports(stopReason: failure)
        if failure == nil, !groups.isEmpty, groups.allSatisfy({ $0.status == .failed }) {
            // Committing would replace the previous outputs with empty files: nothing is better than that.
            failure = Self.noLibraryExported(groups)
        }
        let exported: Set<GroupStatus> = self.configuration.acceptsUnverified ? [.complete, .unverified] : [.complete]
        var outcome: RunOutcome =
            failure != nil
            ? .failed
            : groups.allSatisfy({ exported.contains($0.status) }) && accountErrors.isEmpty ? .complete : .partial
        let finishedAt = Self.wallClockNow()
        let calls = self.ledger.callCounts
        var report = RunReport(
            runID: self.context.runID,
            pipeline: self.configuration.pipeline,
            startedAt: startedAt,
            finishedAt: finishedAt,
            outcome: outcome,
            failure: failure,
            accountErrors: accountErrors,
            groups: groups,
            files: [],
            duration: self.clock.now() - started,
            attemptsByOutcome: calls.outcomes,
            throttled: calls.throttled
        )
        (report.discoveryRequests, report.discoveryRetries) = self.ledger.discoveryCounts
        report.shard = self.configuration.shard
        report.schema = self.configuration.transform.schema
        report.transformDigest = self.configuration.transform.digest
        if self.stop.keepsProgress {
            // Nothing is committed or removed: the journal and the temporary files wait for `--resume`.
            report.outcome = self.stop.isInterruption ? .interrupted : .failed
            return report
        }
        let context = outcome == .failed ? nil : report.commitContext
        if context != nil {
            self.logger.debug("committing the outputs")
        }
        switch self.sinkStage.finish(commit: context) {
        case .success(let outputs) where outcome != .failed:
            if let disagreement = CommitCheck(libraries: self.ledger.handedOn).disagreement(outputs: outputs) {
                for file in outputs.joined() { file.discard(steps: self.context.fileSteps) }
                failure = disagreement
                outcome = .failed
                break
            }
            let prepared = Array(outputs.joined())
            report.files = prepared.map(\.summary)
            var plan = CommitPlan(
                runID: report.runID,
                outcome: outcome,
                files: prepared,
                manifestPath: nil,
                manifest: nil,
                successFolders: []
            )
            if let manifestPath = self.configuration.manifestPath {
                let manifest = RunManifest(report: report)
                plan.manifestPath = manifestPath
                plan.manifest = manifest.encoded
                if outcome == .complete { plan.successFolders = manifest.successFolders(manifestPath: manifestPath) }
            }
            do throws(SinkError) {
                // Recorded first, in a file of its own beside the journal (written whole or not at
                // all, so no damage to the journal can take it): a crash among the renames is
                // finished by the next run.
                if let path = self.context.journalPath {
                    try plan.record(at: CommitPlan.path(forJournal: path), steps: self.context.fileSteps)
                    try self.context.stateMirror?.store(force: true)
                }
                try plan.execute(steps: self.context.fileSteps)
            } catch {
                failure = "the outputs could not all be put in place: \(error); the next run finishes the commit"
                outcome = .failed
            }
        case .success:
            break  // A failed run's files were discarded.
        case .failure(let error):
            failure = "cannot commit the outputs: \(error)"
            outcome = .failed
        }
        if failure == nil || outcome == .failed && report.files.isEmpty {
            self.sinkStage.journal?.remove()
            if let path = self.context.journalPath {
                self.context.fileSteps.remove(CommitPlan.path(forJournal: path))
            }
        }
        report.outcome = outcome
        report.failure = failure
        if outcome == .failed { report.files = [] }
        return report
    }

    /// Why no library could be exported, said once with a count rather than once per library.
    private static func noLibraryExported(_ groups: [GroupReport]) -> String {
        let reasons = groups.compactMap(\.reason)
        let errors = Dictionary(grouping: reasons, by: { $0 }).mapValues(\.count)
        let common = errors.max { $0.value < $1.value || $0.value == $1.value && $0.key > $1.key }
        return "no library could be exported (\(groups.count) failed"
            + (common.map { $0.value == groups.count ? ", each: \($0.key)" : "; \($0.value) of them: \($0.key)" } ?? "")
            + "); the previous outputs were kept"
    }

    private static func wallClockNow() -> String {
        Timestamp.formatRFC3339UTC(milliseconds: Int64((Date().timeIntervalSince1970 * 1000).rounded()))
    }
}
