import Dispatch
import ExportPipeline
import ExportSinks
import FaceExport
import FaceSearch
import FaceSearchSimulation
import FaceSearchSimulator
import Foundation
import PipelineFile
import Synchronization
import TestSupport

/// The rows a complete export of `groups` must contain.
func expectedRows(_ groups: [SimulatedGroup]) -> [OutputRow] {
    groups.flatMap { group in
        group.faces.map {
            OutputRow(
                groupID: Array(group.groupID.utf8),
                faceToken: $0.faceToken,
                userID: Array($0.userID.utf8),
                userData: Array($0.userData.utf8),
                addTime: $0.addTime,
                addTimeUTC: Timestamp.formatRFC3339UTC(milliseconds: $0.addTime)
            )
        }
    }
}

/// Everything one export against a simulator produced.
struct ExportResult {
    var report: RunReport
    var rows: [OutputRow]
    var statistics: SimulatorStatistics
    var outputPath: String
}

/// Caps the exports a test process runs at once. Each export blocks a dozen Dispatch threads
/// (walkers, stages, calls waiting on their answers), and libdispatch's pool stops at 255 threads:
/// beyond that every export in the process stalls.
actor ExportSlots {
    static let shared = ExportSlots(width: 6)

    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(width: Int) { self.free = width }

    func acquire() async {
        if self.free > 0 {
            self.free -= 1
            return
        }
        await withCheckedContinuation { self.waiting.append($0) }
    }

    func release() {
        if self.waiting.isEmpty {
            self.free += 1
        } else {
            self.waiting.removeFirst().resume()
        }
    }
}

/// Runs `body`, an in-process export, in one of ``ExportSlots``' slots.
func withExportSlot<T>(_ body: () async throws -> T) async rethrows -> T {
    await ExportSlots.shared.acquire()
    do {
        let result = try await body()
        await ExportSlots.shared.release()
        return result
    } catch {
        await ExportSlots.shared.release()
        throw error
    }
}

/// Starts a simulator on 127.0.0.1 port 0 with `dataset`, exports from it into NDJSON, and reads the output back.
func exportFromSimulator(
    dataset: Dataset,
    simulator configure: (inout SimulatorConfiguration) -> Void = { _ in },
    groups: AccountJob.Groups = .all,
    clientSecret: String? = nil,
    pipeline: (inout ExportConfiguration) -> Void = { _ in },
    context: (inout RunContext) -> Void = { _ in },
    rateLimit: RateLimitConfiguration = .unlimited,
    clock: any PipelineClock = ManualClock(),
    outputPath: String? = nil,
    extraOutputs: [OutputSink.Configuration] = [],
    manifestPath: String? = nil,
    requestTimeout: Double = 30
) async throws -> ExportResult {
    try await withExportSlot {
        try await exportFromSimulatorNow(
            dataset: dataset,
            simulator: configure,
            groups: groups,
            clientSecret: clientSecret,
            pipeline: pipeline,
            context: context,
            rateLimit: rateLimit,
            clock: clock,
            outputPath: outputPath,
            extraOutputs: extraOutputs,
            manifestPath: manifestPath,
            requestTimeout: requestTimeout
        )
    }
}

private func exportFromSimulatorNow(
    dataset: Dataset,
    simulator configure: (inout SimulatorConfiguration) -> Void,
    groups: AccountJob.Groups,
    clientSecret: String?,
    pipeline: (inout ExportConfiguration) -> Void,
    context configureContext: (inout RunContext) -> Void,
    rateLimit: RateLimitConfiguration,
    clock: any PipelineClock,
    outputPath: String?,
    extraOutputs: [OutputSink.Configuration],
    manifestPath: String?,
    requestTimeout: Double
) async throws -> ExportResult {
    let credentials = FaceSearchCredentials(apiKey: "test-key", apiSecret: "test-secret")
    var simulatorConfiguration = SimulatorConfiguration(credentials: [credentials.apiKey: credentials.apiSecret])
    configure(&simulatorConfiguration)
    let simulator = FaceSearchSimulator(configuration: simulatorConfiguration, dataset: dataset)
    let path = try outputPath ?? (makeTemporaryDirectory() + "/faces.ndjson.gz")
    var configuration = ExportConfiguration()
    configuration.manifestPath = manifestPath
    configuration.retry = RetryPolicy(maxAttempts: 4, baseDelay: 0.001, maxDelay: 0.01)
    pipeline(&configuration)
    var context = RunContext(runID: "test-\(UUID().uuidString.prefix(8))")
    context.date = "2026-11-26"
    configureContext(&context)
    // Tests that cut a call short pass a short timeout; the others keep room for a loaded machine.
    let transport = try PipelineDefinition.HTTPClient.curl.transport(timeout: requestTimeout)
    let outputs = [OutputSink.Configuration(format: .ndjson, path: try OutputPathTemplate(path))] + extraOutputs
    let report = try await simulator.withRunning { port in
        let account = AccountJob(
            name: "test",
            endpoint: try FaceSearchEndpoint("http://127.0.0.1:\(port)"),
            credentials: FaceSearchCredentials(
                apiKey: credentials.apiKey,
                apiSecret: clientSecret ?? credentials.apiSecret
            ),
            transport: transport,
            groups: groups,
            rateLimit: rateLimit
        )
        let job = ExportJob(
            configuration: configuration,
            context: context,
            accounts: [account],
            outputs: outputs,
            pathValues: .init(date: context.date, runID: context.runID, pipeline: "test")
        )
        return await ExportJob.run(job.makeRun(clock: clock))
    }
    // Rows of other schemas are read by the tests that make them.
    let standard = configuration.transform.schema == .standard
    let rows = report.files.isEmpty || !standard ? [] : try readNDJSON(path)
    return ExportResult(report: report, rows: rows, statistics: simulator.api.counts, outputPath: path)
}

/// A pipeline file on the embedded simulator, for tests that run the binary.
func embeddedPipeline(
    name: String,
    folder: String,
    groups: Int,
    faces: Int,
    seed: Int,
    latency: Double = 0,
    extra: String = "",
    outputs: [String]
) -> String {
    // A slow pipeline is slow because the exporter paces itself (20 calls/s), not only because the
    // simulator answers late: pacing holds however loaded the machine, so a test that interrupts a
    // slow run after a few libraries always finds it still running.
    """
    name: \(name)
    endpoint: embedded
    simulator:
      groups: \(groups)
      faces: \(faces)
      seed: \(seed)
      faults: {latency: \(latency)}
    concurrency: 2
    page_size: 100
    rate_limit: {mode: fixed, requests_per_second: \(latency > 0 ? 20 : 1000), burst: \(latency > 0 ? 1 : 10)}
    output_dir: \(folder)/out
    \(extra)
    outputs:
    \(outputs.map { "  - " + $0 }.joined(separator: "\n"))
    """
}
