import ArgumentParser
import Dispatch
import ExportPipeline
import FaceExport
import FaceSearch
import Foundation
import Logging
import PipelineFile
import Synchronization

/// `faceexport run`: export the libraries a pipeline file names.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a pipeline: export every library it names to its outputs.",
        discussion: """
            Exit codes: 0 complete (libraries edited during the walk or walked without get_size included), \
            2 partial (some libraries failed or could not be read to their end; outputs committed), \
            3 failed (the API refused the run or could not be reached for outage_tolerance, the deadline passed, \
            no library could be exported, or the outputs could not be written; previous outputs untouched), \
            4 configuration error (the pipeline, a flag, the credentials or the output folder), \
            5 another run holds the lock, 130/143 interrupted by SIGINT/SIGTERM, 1 internal error.
            """
    )

    @Argument(help: "The pipeline file (YAML).")
    var pipeline: String

    @Option(help: "The service root, e.g. https://api-sgp.yljz.com; overrides the pipeline's endpoint.")
    var endpoint: String?

    @Option(
        name: .customLong("groups-file"),
        help: "A file of group ids, one per line; overrides the pipeline's groups."
    )
    var groupsFile: String?

    @Option(help: "The folder for every output; overrides the pipeline's output_dir.")
    var out: String?

    @Option(help: "Export only shard K of N (K/N, from 0): the libraries whose stable hash falls in it.")
    var shard: String?

    @Option(help: "Write Prometheus metrics to this file at the end; overrides the pipeline's metrics_file.")
    var metricsFile: String?

    @Flag(help: "Continue the interrupted run of this pipeline (same run id) from its journal.")
    var resume = false

    @Flag(
        help:
            "Continue the interrupted run if there is one under the same settings, else start a new run (for a scheduler's retry)."
    )
    var resumeIfInterrupted = false

    @Flag(
        help:
            "Print the output schema and the first transformed records of the first library; write nothing."
    )
    var dryRun = false

    @Option(help: "Records --dry-run prints.")
    var dryRunRecords = 5

    @Flag(help: "Exit 2 when the run is partial even if the pipeline says on_incomplete: accept.")
    var failOnIncomplete = false

    @Option(
        name: .customLong("log-level"),
        help: "trace, debug, info, warning or error.",
        transform: { text in
            guard let level = Logger.Level(rawValue: text) else { throw ValidationError("unknown log level '\(text)'") }
            return level
        }
    )
    var logLevel: Logger.Level = .warning

    @Option(help: "auto (text on a terminal, JSON lines otherwise), text or json.")
    var logFormat = "auto"

    func run() async throws {
        ProcessMemory.configure()
        guard let format = LogSetup.Format(rawValue: self.logFormat) else {
            throw ValidationError("--log-format must be auto, text or json")
        }
        var shard: Shard?
        if let text = self.shard {
            guard let parsed = Shard(text) else { throw ValidationError("--shard takes K/N with 0 ≤ K < N, e.g. 0/4") }
            shard = parsed
        }
        let logger = LogSetup.bootstrap(level: self.logLevel, format: format)
        let definition: PipelineDefinition
        do {
            definition = try PipelineFileLoader.load(path: self.pipeline)
        } catch {
            Self.say("faceexport: \(error)")
            throw ExitStatus.configuration
        }
        let stop = StopSignal()
        let signals = SignalWatcher(stop: stop)
        let onTerminal = isatty(STDERR_FILENO) == 1
        let progress = Mutex<ProgressLine?>(nil)
        var launcher = PipelineLauncher(
            definition: definition,
            file: self.pipeline,
            overrides: .init(
                endpoint: self.endpoint,
                groupsFile: self.groupsFile,
                outputDirectory: self.out,
                shard: shard,
                resume: self.resume,
                resumeIfInterrupted: self.resumeIfInterrupted
            ),
            logger: logger,
            stop: stop
        )
        launcher.steps = CrashTestSteps.fromEnvironment(ProcessInfo.processInfo.environment)
        launcher.testPartSize = CrashTestSteps.partSize(ProcessInfo.processInfo.environment)
        if self.dryRun {
            print(
                try await Self.exitingOnError { [launcher] in
                    try await launcher.preview(count: max(1, self.dryRunRecords))
                }
            )
            return
        }
        let pusher = try await Self.exitingOnError { [launcher] in try launcher.makeMetricsPusher() }
        launcher.onStart = { run in
            progress.withLock { $0 = ProgressLine(run: run, enabled: onTerminal) }
            pusher?.start { run.progress }
        }
        let report: RunReport
        do {
            report = try await Self.exitingOnError { [launcher] in try await launcher.launch() }
        } catch let code as ExitCode where [ExitStatus.failed, ExitStatus.configuration].contains(code) {
            // A run that failed before it began is a failed run to whoever watches the metrics (not
            // one the lock turned away: another run is under way, and its figures stand).
            progress.withLock { $0?.finish() }
            let file = self.metricsFile ?? definition.metricsFile
            await Self.reportMetrics(nil, file: file, pusher: pusher, pipeline: definition.name)
            throw code
        }
        progress.withLock { $0?.finish() }
        Self.say(RunSummary(report: report, pipeline: definition.name).text)
        let file = self.metricsFile ?? definition.metricsFile
        await Self.reportMetrics(report, file: file, pusher: pusher, pipeline: definition.name)
        if let signal = signals.received { throw ExitStatus.interrupted(by: signal) }
        switch report.outcome {
        case .complete: throw ExitStatus.complete
        case .partial:
            throw definition.acceptsIncomplete && !self.failOnIncomplete ? ExitStatus.complete : ExitStatus.partial
        case .failed: throw ExitStatus.failed
        case .interrupted: throw ExitStatus.interrupted(by: signals.received ?? SIGTERM)
        }
    }

    /// Pushes the figures of `report` (of a run that failed before it began when nil) and writes
    /// them to `file`, where the pipeline asks for either; a failure of either is only said.
    private static func reportMetrics(
        _ report: RunReport?,
        file: String?,
        pusher: MetricsPusher?,
        pipeline: String
    ) async {
        let now = Date()
        if let pusher {
            // Only a complete run pushes a last success: a POST keeps the one pushed before.
            let metrics: RunMetrics =
                report.map {
                    .finished($0, now: now, lastSuccess: $0.outcome == .complete ? now.timeIntervalSince1970 : nil)
                } ?? .failedToStart(now: now, lastSuccess: nil)
            await BlockingWork.run { pusher.finish(with: metrics) }
        }
        guard let file else { return }
        do {
            try MetricsFile(path: file, pipeline: pipeline).write(report, now: now)
        } catch {
            Self.say("faceexport: cannot write the metrics file \(file): \(error)")
        }
    }

    /// Runs `body`; an error it throws is said on standard error and becomes its exit code: the
    /// launcher's own, 3 for an API call that failed, 4 for anything else (nothing was exported).
    private static func exitingOnError<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as LaunchError {
            Self.say("faceexport: \(error)")
            throw ExitCode(error.status.rawValue)
        } catch let error as FaceSearchError {
            Self.say("faceexport: \(error)")
            throw ExitStatus.failed
        } catch {
            Self.say("faceexport: \(error)")
            throw ExitStatus.configuration
        }
    }

    private static func say(_ text: String) {
        FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }
}

/// SIGINT and SIGTERM: the first stops the run (no new requests, outputs discarded, exit 130/143);
/// a second one exits at once.
final class SignalWatcher: @unchecked Sendable {
    // `sources` is filled in `init` and never changed after; `state` is behind its own lock.
    private let state = Mutex<Int32?>(nil)
    private var sources: [any DispatchSourceSignal] = []

    init(stop: StopSignal) {
        let queue = DispatchQueue(label: "faceexport.signals")
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
            source.setEventHandler { [unowned self] in self.handle(signalNumber, stop: stop) }
            source.resume()
            self.sources.append(source)
        }
    }

    private func handle(_ signalNumber: Int32, stop: StopSignal) {
        let first = self.state.withLock { received -> Bool in
            defer { received = received ?? signalNumber }
            return received == nil
        }
        guard first else { _exit(128 + signalNumber) }
        let name = signalNumber == SIGINT ? "SIGINT" : "SIGTERM"
        stop.raise(
            "interrupted by \(name); no output was committed — continue with --resume (a second signal exits at once)",
            interruption: true
        )
    }

    /// The first signal received, if any.
    var received: Int32? { self.state.withLock { $0 } }
}
