import ArgumentParser
import ExportPipeline
import ExportSinks
import FaceExport
import FaceSearch
import FaceSearchSimulator
import Foundation
import Logging
import PipelineFile

/// `faceexport-bench`: named scenarios against a simulator in a separate process.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "faceexport-bench",
        abstract: "Run benchmark scenarios against a simulator process; prints a table and optionally JSON.",
        discussion: """
            Scenarios: ratelimit (the simulator admits 20 calls/s; the exporter is paced at a fixed 98% of it), \
            ratelimit-adaptive (the same limit, unknown to the exporter, which starts at 5 calls/s), \
            throttle (for each of --throttle-limits, a pipeline starting adaptive at 1,000 calls/s against that \
            limit, answered with --limit-status: share of the limit admitted, share rejected overall and after \
            the first 10 s), throttle-drop (the same, the limit halving half-way through --duration), \
            sink-ndjson, sink-csv, sink-sqlite (1,000,000 records through one sink alone, no network; \
            run one per invocation for a clean peak-memory figure), cpu (--cpu-groups libraries of 1,000 faces, \
            no latency, no limit, pages of 1,000, of --data realistic or hard faces, exported into --cpu-formats in \
            turn: CPU per million, gzip size against zlib level 6, SQLite's own floor for the same rows, and with \
            --compare-baseline the Python baseline's CPU; ndjson-uncompressed shows what gzip costs, sqlite-merge \
            measures a merge into the file an unmeasured run before it left, as a nightly merge does; \
            records-dropped exports with a filter that leaves every face out and calls-only makes the same calls \
            without reading the pages: what comes before the records, and what the calls alone cost), scale (1,000 and --scale-groups libraries of 1,000 faces, \
            and one library of 1,000,000: CPU per face and peak memory must not grow), latency (200 ms ± 50 ms per \
            call, 64 libraries at once: calls per second against 64 / 0.2 s), biggroup (one library of 200,000 \
            faces, 100 ms per call: wall time against pages / concurrency × latency).
            """
    )

    @Argument(help: "Scenarios to run.")
    var scenarios: [String] = ["ratelimit", "ratelimit-adaptive"]

    @Option(help: "Seconds a rate-limit scenario should last, at least.")
    var duration: Double = 60

    @Option(help: "The simulator's limit, in calls per second.")
    var limit = 20

    @Option(help: "The limits the throttle scenarios run against, in calls per second (comma-separated).")
    var throttleLimits = "2,20,200"

    @Option(help: "The status of CONCURRENCY_LIMIT_EXCEEDED in the throttle scenarios: 403 or 429.")
    var limitStatus = 429

    @Option(help: "Write the results as JSON to this file.")
    var json: String?

    @Option(help: "Records a sink scenario writes.")
    var records = 1_000_000

    @Option(help: "Libraries of 1,000 faces the cpu scenario exports.")
    var cpuGroups = 1000

    @Option(
        help:
            "Formats the cpu scenario exports into, in turn (comma-separated: ndjson, csv, sqlite, ndjson-uncompressed, sqlite-merge, records-dropped, calls-only)."
    )
    var cpuFormats = "ndjson,csv,sqlite"

    @Option(help: "Libraries of 1,000 faces of the scale scenario's large run.")
    var scaleGroups = 4000

    @Option(help: "The cpu scenario's faces: realistic (--face-bytes, --hard-share) or hard (mostly hard values).")
    var data = "realistic"

    @Option(help: "Realistic data: average bytes of a face as the API sends it.")
    var faceBytes = DatasetGenerator.RealisticFaces().averageFaceBytes

    @Option(help: "Realistic data: share of faces with quotes, backslashes, control characters or non-ASCII.")
    var hardShare = DatasetGenerator.RealisticFaces().hardShare

    @Flag(help: "In the cpu scenario, also run samples/baseline/python_exporter.py against the same simulator.")
    var compareBaseline = false

    @Option(help: "The gzip engine of .gz outputs: isal, libdeflate or zlib, with a level after a colon (zlib:6).")
    var compression = "isal:2"

    func run() async throws {
        ProcessMemory.configure()
        var results: [BenchResult] = []
        for scenario in self.scenarios {
            switch scenario {
            case "ratelimit":
                results.append(try await self.rateLimit(adaptive: false))
            case "ratelimit-adaptive":
                results.append(try await self.rateLimit(adaptive: true))
            case "throttle", "throttle-drop":
                for limit in self.throttleLimits.split(separator: ",") {
                    guard let limit = Int(limit), limit > 0 else {
                        throw ValidationError("--throttle-limits takes whole numbers, e.g. 2,20,200")
                    }
                    results.append(try await self.throttle(limit: limit, drops: scenario == "throttle-drop"))
                    FileHandle.standardError.write(Data(results.last!.line.utf8))
                }
            case "sink-ndjson":
                results.append(try self.sinkAlone(.ndjson, file: "faces.ndjson.gz"))
            case "sink-csv":
                results.append(try self.sinkAlone(.csv, file: "faces.csv.gz"))
            case "sink-sqlite":
                results.append(try self.sinkAlone(.sqlite, file: "faces.sqlite"))
            case "cpu":
                results.append(contentsOf: try await self.cpu())
            case "scale":
                results.append(contentsOf: try await self.scale())
            case "latency":
                results.append(try await self.latency())
            case "biggroup":
                results.append(try await self.bigGroup())
            default:
                throw ValidationError("unknown scenario '\(scenario)'")
            }
            // Scenarios of several results say each as it ends; the others are said here.
            if !["throttle", "throttle-drop", "cpu", "scale"].contains(scenario) {
                FileHandle.standardError.write(Data(results.last!.line.utf8))
            }
        }
        print(BenchResult.table(results))
        if let json = self.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(results).write(to: URL(fileURLWithPath: json))
        }
    }

    private func rateLimit(adaptive: Bool) async throws -> BenchResult {
        // Pages of 100 from libraries of 4,000 faces: 41 calls a library.
        let groups = Int((self.duration * Double(self.limit) / 41).rounded(.up)) + 1
        let simulator = try SimulatorProcess(arguments: [
            "--groups", String(groups), "--faces", "4000", "--exact-sizes", "--rate-limit", String(self.limit),
            "--record-timeline",
        ])
        defer { simulator.stop() }
        var rateLimit: RateLimitConfiguration
        if adaptive {
            rateLimit = RateLimitConfiguration()
            rateLimit.requestsPerSecond = 5
            rateLimit.maxRequestsPerSecond = Double(self.limit) * 10
        } else {
            rateLimit = .fixed(Double(self.limit) * 0.98, burst: 1, maxInFlight: 8)
        }
        let measured = try await self.export(from: simulator, rateLimit: rateLimit, pageSize: 100, concurrency: 8)
        let statistics = try await simulator.statistics()
        var result = BenchResult(
            scenario: adaptive ? "ratelimit-adaptive" : "ratelimit",
            measured: measured,
            statistics: statistics
        )
        let times = statistics.acceptedTimes.sorted()
        if let first = times.first, let last = times.last, last > first {
            let limit = Double(self.limit)
            result.figures["achieved_requests_per_second"] = Double(times.count) / (last - first)
            result.figures["share_of_limit_overall"] = Double(times.count) / (last - first) / limit
            let tenth = times.filter { $0 >= first + 10 && $0 < first + 11 }.count
            result.figures["share_of_limit_at_10s"] = Double(tenth) / limit
            result.figures["share_rejected"] = Double(statistics.rejections) / Double(max(1, statistics.requests))
        }
        return result
    }

    /// A pipeline copied from the demo (adaptive from 1,000 calls/s) against an account that admits
    /// `limit` calls/s, or that admits `limit` and then half of it: every library must be complete,
    /// and the figures say how close to the limit the run went and how often it was refused.
    private func throttle(limit: Int, drops: Bool) async throws -> BenchResult {
        let later = max(1, limit / 2)
        // Pages of 100 from libraries of 1,000 faces: 12 calls a library.
        let calls = drops ? self.duration / 2 * Double(limit + later) : self.duration * Double(limit)
        let groups = Int((calls / 12).rounded(.up)) + 1
        var arguments = [
            "--groups", String(groups), "--faces", "1000", "--exact-sizes", "--rate-limit", String(limit),
            "--limit-status", String(self.limitStatus), "--record-timeline",
        ]
        if drops {
            arguments += ["--limit-change-after", String(self.duration / 2), "--limit-change-to", String(later)]
        }
        let simulator = try SimulatorProcess(arguments: arguments)
        defer { simulator.stop() }
        var rateLimit = RateLimitConfiguration()
        rateLimit.requestsPerSecond = 1000
        rateLimit.maxRequestsPerSecond = 10_000
        let measured = try await self.export(from: simulator, rateLimit: rateLimit, pageSize: 100, concurrency: 8)
        let statistics = try await simulator.statistics()
        let name = "\(drops ? "throttle-drop" : "throttle")-\(limit)\(self.limitStatus == 403 ? "-403" : "")"
        var result = BenchResult(scenario: name, measured: measured, statistics: statistics)
        let accepted = statistics.acceptedTimes.sorted()
        let rejected = statistics.rejectedTimes
        guard let first = accepted.first, let last = accepted.last, last > first else { return result }
        // The limit allowed `limit` calls in any second, so over [first, last] at most this many.
        let change = first + self.duration / 2
        let allowed =
            drops && last > change
            ? Double(limit) * (change - first) + Double(later) * (last - change) : Double(limit) * (last - first)
        result.figures["share_of_limit"] = Double(accepted.count) / allowed
        result.figures["share_rejected"] = Double(rejected.count) / Double(max(1, accepted.count + rejected.count))
        // Settled: 10 s after the start and, with a drop, 10 s after it.
        let settled: (Double) -> Bool = { $0 >= first + 10 && (!drops || $0 < change || $0 >= change + 10) }
        let settledAccepted = accepted.filter(settled).count
        let settledRejected = rejected.filter(settled).count
        result.figures["share_rejected_settled"] =
            Double(settledRejected) / Double(max(1, settledAccepted + settledRejected))
        result.figures["limit"] = Double(limit)
        return result
    }

    /// The exporter's own CPU per million faces against a simulator that neither waits nor limits.
    private func cpu() async throws -> [BenchResult] {
        let simulator = try SimulatorProcess(
            arguments: ["--groups", String(self.cpuGroups), "--faces", "1000", "--exact-sizes"]
                + (try self.datasetArguments())
        )
        defer { simulator.stop() }
        var results: [BenchResult] = []
        // Each format's output; none for calls-only, which writes nothing.
        let outputs: [String: (OutputSink.Format, String)?] = [
            "ndjson": (.ndjson, "faces.ndjson.gz"), "csv": (.csv, "faces.csv.gz"), "sqlite": (.sqlite, "faces.sqlite"),
            "ndjson-uncompressed": (.ndjson, "faces.ndjson"), "sqlite-merge": (.sqlite, "faces.sqlite"),
            "records-dropped": (.ndjson, "faces.ndjson"), "calls-only": nil,
        ]
        let formats = try self.cpuFormats.split(separator: ",").map { name in
            guard let output = outputs[String(name)] else {
                throw ValidationError("--cpu-formats: unknown format '\(name)'")
            }
            return (String(name), output)
        }
        for (name, output) in formats {
            var before = try await simulator.statistics()
            var zlibRatio: Double?
            let measured: BenchResult.Measured
            if let (format, file) = output {
                measured = try await self.export(
                    from: simulator,
                    rateLimit: .unlimited,
                    pageSize: 1000,
                    concurrency: 4,
                    format: format,
                    file: file,
                    mergingIntoAnEarlierRun: name == "sqlite-merge",
                    droppingEveryFace: name == "records-dropped",
                    measuring: { before = try await simulator.statistics() },
                    inspect: { path in
                        if path.hasSuffix(".gz") { zlibRatio = try Self.sizeAgainstZlib6(path) }
                    }
                )
            } else {
                measured = try await self.callsOnly(simulator, concurrency: 4)
            }
            let after = try await simulator.statistics()
            var statistics = after
            statistics.requests -= before.requests
            statistics.rejections -= before.rejections
            statistics.connectionsAccepted -= before.connectionsAccepted
            var result = BenchResult(scenario: "cpu-\(name)", measured: measured, statistics: statistics)
            result.figures["cpu_seconds_per_million_faces"] = measured.cpuSecondsPerMillionFaces
            result.figures["faces_per_second"] = Double(measured.faces) / measured.wallSeconds
            if let zlibRatio { result.figures["size_vs_zlib6"] = zlibRatio }
            results.append(result)
            FileHandle.standardError.write(Data(result.line.utf8))
        }
        let faces = results.first?.measured.faces ?? 0
        if let sqlite = results.firstIndex(where: { $0.scenario == "cpu-sqlite" }) {
            let floor = try self.sqliteFloor(faces: faces)
            results[sqlite].figures["over_sqlite_floor"] =
                results[sqlite].measured.cpuSecondsPerMillionFaces - floor.measured.cpuSecondsPerMillionFaces
            results.append(floor)
            FileHandle.standardError.write(Data(floor.line.utf8))
        }
        if self.compareBaseline {
            var baseline = try self.pythonBaseline(simulator)
            if let ndjson = results.first(where: { $0.scenario == "cpu-ndjson" }) {
                baseline.figures["times_faceexport_ndjson_gz"] =
                    baseline.measured.cpuSecondsPerMillionFaces / ndjson.measured.cpuSecondsPerMillionFaces
            }
            results.append(baseline)
            FileHandle.standardError.write(Data(baseline.line.utf8))
        }
        return results
    }

    /// CPU per face and peak memory at 1M faces, at `--scale-groups` × 1,000, and in one library of 1M.
    private func scale() async throws -> [BenchResult] {
        var results: [BenchResult] = []
        for (name, groups, faces) in [
            ("scale-1000x1000", 1000, 1000), ("scale-\(self.scaleGroups)x1000", self.scaleGroups, 1000),
            ("scale-1x1000000", 1, 1_000_000),
        ] {
            var (result, _) = try await self.exportFromItsOwnSimulator(
                name,
                simulator: ["--groups", String(groups), "--faces", String(faces)],
                concurrency: 4
            )
            result.figures["cpu_seconds_per_million_faces"] = result.measured.cpuSecondsPerMillionFaces
            results.append(result)
            FileHandle.standardError.write(Data(result.line.utf8))
        }
        let base = results[0].figures["cpu_seconds_per_million_faces"] ?? 0
        for index in results.indices.dropFirst() where base > 0 {
            results[index].figures["cpu_per_face_vs_1m"] =
                (results[index].figures["cpu_seconds_per_million_faces"] ?? 0) / base
        }
        return results
    }

    /// 200 ms ± 50 ms per call and 64 libraries at once: calls per second against 64 / 0.2 s.
    private func latency() async throws -> BenchResult {
        var (result, statistics) = try await self.exportFromItsOwnSimulator(
            "latency",
            simulator: [
                "--groups", "640", "--faces", "1000", "--latency", "0.2", "--latency-jitter", "0.05",
                "--record-timeline",
            ],
            concurrency: 64
        )
        let ideal = 64 / 0.2
        let achieved = Double(result.requests) / result.measured.wallSeconds
        result.figures["calls_per_second"] = achieved
        result.figures["ideal_calls_per_second"] = ideal
        result.figures["share_of_ideal"] = achieved / ideal
        // In full flow, without the first and the last second (group_list, connections, the tail).
        let times = statistics.acceptedTimes.sorted()
        if let first = times.first, let last = times.last {
            // From the first call to the last answer: the walk's own rate, without the process starting,
            // the run's setup and its commit.
            result.figures["share_of_ideal_calls"] = Double(times.count) / (last - first + 0.2) / ideal
            if last - first > 3 {
                let steady = times.filter { $0 >= first + 1 && $0 < last - 1 }.count
                result.figures["share_of_ideal_steady"] = Double(steady) / (last - first - 2) / ideal
            }
        }
        return result
    }

    /// One library of 200,000 faces at 100 ms per call: wall time against pages / concurrency × latency.
    private func bigGroup() async throws -> BenchResult {
        var (result, _) = try await self.exportFromItsOwnSimulator(
            "biggroup",
            simulator: ["--groups", "1", "--faces", "200000", "--latency", "0.1"],
            concurrency: 8
        )
        let ideal = 200 / 8 * 0.1
        result.figures["ideal_wall_seconds"] = ideal
        result.figures["wall_vs_ideal"] = result.measured.wallSeconds / ideal
        return result
    }

    /// An unpaced export, pages of 1,000, from a simulator of libraries of one size started with
    /// `arguments` for it alone; the simulator's statistics too.
    private func exportFromItsOwnSimulator(
        _ scenario: String,
        simulator arguments: [String],
        concurrency: Int
    ) async throws -> (BenchResult, SimulatorStatistics) {
        let simulator = try SimulatorProcess(arguments: arguments + ["--exact-sizes"])
        defer { simulator.stop() }
        let measured = try await self.export(
            from: simulator,
            rateLimit: .unlimited,
            pageSize: 1000,
            concurrency: concurrency
        )
        let statistics = try await simulator.statistics()
        return (BenchResult(scenario: scenario, measured: measured, statistics: statistics), statistics)
    }

    /// Writes `records` generated records through one sink, in pages of 1,000, and measures it.
    private func sinkAlone(_ format: OutputSink.Format, file: String) throws -> BenchResult {
        let folder = NSTemporaryDirectory() + "faceexport-bench-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var output = OutputSink.Configuration(format: format, path: try OutputPathTemplate(folder + "/" + file))
        output.compression = try self.gzipCompression()
        let sink = OutputSink(configuration: output, run: .init(date: "2026-01-01", runID: "bench", pipeline: "bench"))
        // Ten pages of records made up front and written over and over under a new library id every
        // ten pages, so the figures are the sink's, not the generator's.
        var random = SplitMix64(seed: 7)
        let strings = DatasetGenerator.hardStrings
        // Each row without its library id, which the maker puts first.
        let pages: [[[FieldValue]]] = (0..<10).map { pageIndex in
            (0..<1000).map { index in
                let time = 1_767_225_600_000 + Int64(pageIndex * 1000 + index) * 1000
                return [
                    .text(String(random.next(), radix: 16) + String(random.next(), radix: 16)),
                    .text("u-\(random.next() % 10_000_000)"),
                    .text(strings[Int(random.next() % UInt64(strings.count))]),
                    .integer(time),
                    .text(Timestamp.formatRFC3339UTC(milliseconds: time)),
                ]
            }
        }
        ResourceUsage.resetPeak()
        // The pages are made on another thread, as the transformer stage makes them for the sink stage
        // in a run: the sink's thread only writes.
        let records = self.records
        let handed = BoundedQueue<(group: String, rows: RecordRows)>(capacity: 4)
        // A sink that fails leaves the maker waiting on a full queue: cancelling lets it go.
        defer { handed.cancel() }
        DispatchQueue(label: "faceexport.bench.pages").async {
            defer { handed.close() }
            var made = 0
            while made < records {
                let group = "grp-\(made / 10_000)"
                let template = pages[(made / 1000) % pages.count]
                let count = min(template.count, records - made)
                var page = RecordRows(width: RecordSchema.standard.columns.count, capacity: count)
                for row in template.prefix(count) {
                    page.appendText(group)
                    for value in row { page.append(value) }
                }
                guard handed.push((group, page)) else { return }
                made += count
            }
        }
        let before = ResourceUsage.now()
        let started = Date()
        var written = 0
        var sinkCPU = 0.0
        while let (group, page) = handed.pop() {
            let before = ResourceUsage.threadCPUSeconds()
            try sink.write(page, from: RecordSource(account: "bench", groupID: group))
            sinkCPU += ResourceUsage.threadCPUSeconds() - before
            written += page.count
        }
        let context = CommitContext(
            runID: "bench",
            pipeline: "bench",
            startedAt: "",
            finishedAt: "",
            outcome: "complete",
            groups: [],
            pages: 0,
            requests: 0,
            retries: 0
        )
        let loaded = Date().timeIntervalSince(started)
        let commitStarted = ResourceUsage.threadCPUSeconds()
        let summary = try sink.commit(context)
        sinkCPU += ResourceUsage.threadCPUSeconds() - commitStarted
        let wall = Date().timeIntervalSince(started)
        let after = ResourceUsage.now()
        var result = BenchResult(
            scenario: "sink-\(format.rawValue)",
            measured: .init(
                outcome: "complete",
                faces: written,
                wallSeconds: wall,
                cpuSeconds: after.cpuSeconds - before.cpuSeconds,
                peakResidentMB: Double(after.peakResidentBytes) / 1_048_576
            ),
            statistics: SimulatorStatistics()
        )
        result.figures["rows_per_second"] = Double(written) / wall
        // The sink's own work: CPU inside its calls (it works synchronously on this thread), without the
        // harness's copying of pre-made rows.
        result.figures["sink_cpu_seconds"] = sinkCPU
        result.figures["rows_per_sink_cpu_second"] = Double(written) / sinkCPU
        result.figures["commit_seconds"] = wall - loaded
        result.figures["cpu_seconds_per_million_rows"] = (after.cpuSeconds - before.cpuSeconds) / Double(written) * 1e6
        result.figures["file_megabytes"] = Double(summary.first?.bytes ?? 0) / 1_048_576
        return result
    }

    /// A client of `simulator` through the transport `faceexport run` uses.
    static func client(of simulator: SimulatorProcess, logger: Logger) throws -> FaceSearchClient {
        FaceSearchClient(
            endpoint: try FaceSearchEndpoint(simulator.endpoint),
            signer: RequestSigner(credentials: simulator.credentials),
            transport: try PipelineDefinition.HTTPClient.curl.transport(timeout: 15),
            logger: logger
        )
    }

    /// Runs one export in this process against `simulator` and measures it.
    private func export(
        from simulator: SimulatorProcess,
        rateLimit: RateLimitConfiguration,
        pageSize: Int,
        concurrency: Int,
        format: OutputSink.Format = .ndjson,
        file: String = "faces.ndjson.gz",
        mergingIntoAnEarlierRun: Bool = false,
        droppingEveryFace: Bool = false,
        measuring: () async throws -> Void = {},
        inspect: (String) throws -> Void = { _ in }
    ) async throws -> BenchResult.Measured {
        let folder = NSTemporaryDirectory() + "faceexport-bench-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var logger = Logger(label: "faceexport.bench")
        logger.logLevel = .error
        let client = try Self.client(of: simulator, logger: logger)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var output = OutputSink.Configuration(format: format, path: try OutputPathTemplate(folder + "/" + file))
        output.compression = try self.gzipCompression()
        if mergingIntoAnEarlierRun { output.sqliteMode = .merge }
        func makeRun(_ runID: String) -> ExportRun {
            var configuration = ExportConfiguration()
            configuration.pipeline = "bench"
            configuration.pageSize = pageSize
            configuration.concurrency = concurrency
            if droppingEveryFace { configuration.transform = Self.dropEveryFace }
            var context = RunContext(runID: runID)
            context.date = "2026-01-01"
            // Journaled page by page, as `faceexport run` always is.
            context.journalPath = folder + "/bench.journal"
            let account = AccountJob(name: "bench", client: client, groups: .all, rateLimit: rateLimit)
            return ExportJob(configuration: configuration, context: context, accounts: [account], outputs: [output])
                .makeRun(logger: logger)
        }
        if mergingIntoAnEarlierRun {
            // The night before, not measured: the measured run merges into the file it leaves.
            let earlier = makeRun("bench-earlier")
            let report = await ExportJob.run(earlier)
            guard report.outcome == .complete else {
                throw ValidationError("the earlier run of the merge scenario ended \(report.outcome.rawValue)")
            }
        }
        let run = makeRun("bench")
        try await measuring()
        ResourceUsage.resetPeak()
        let before = ResourceUsage.now()
        let started = Date()
        let report = await ExportJob.run(run)
        let wall = Date().timeIntervalSince(started)
        let after = ResourceUsage.now()
        try inspect(folder + "/" + file)
        return BenchResult.Measured(
            outcome: report.outcome.rawValue,
            // Faces read, written or left out by the transform's filter.
            faces: report.faces + report.filtered,
            wallSeconds: wall,
            cpuSeconds: after.cpuSeconds - before.cpuSeconds,
            peakResidentMB: Double(after.peakResidentBytes) / 1_048_576
        )
    }
}
