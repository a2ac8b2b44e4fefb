import ArgumentParser
import ExportPipeline
import ExportSinks
import FaceExport
import FaceSearch
import FaceSearchSimulation
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
            parquet-writer and parquet-writer-uncompressed put the same records through the Parquet writer, \
            zstd level 3 or none, the writer alone (no file, digest or checkpoints); \
            run one per invocation for a clean peak-memory figure), sinks (--cpu-groups libraries of 1,000 faces of --data, made \
            up front, through the sinks of --cpu-formats in turn (ndjson, csv, sqlite, ndjson-uncompressed, parquet, \
            parquet-snappy, parquet-uncompressed), each alone on one thread: its own CPU per million rows, the only \
            work in which the formats differ), cpu (--cpu-groups libraries of 1,000 faces, \
            no latency, no limit, pages of 1,000, of --data realistic or hard faces, exported into --cpu-formats in \
            turn: CPU per million, gzip size against zlib level 6, SQLite's own floor for the same rows, and with \
            --compare-baseline the Python baseline's CPU; ndjson-uncompressed shows what gzip costs, sqlite-merge \
            measures a merge into the file an unmeasured run before it left, as a nightly merge does; \
            records-dropped exports with a filter that leaves every face out and calls-only makes the same calls \
            without reading the pages: what comes before the records, and what the calls alone cost; parquet \
            also writes the same rows with pyarrow's writer (zstd, its defaults) for the size, and \
            duckdb-parquet exports uncompressed NDJSON and measures DuckDB converting it to Parquet zstd: its \
            row is DuckDB's CPU), parquet-lookup (--cpu-groups libraries into Parquet in row groups of \
            --lookup-row-group-size MiB, with bloom filters and without: the share of the file's bytes DuckDB \
            reads, counted by strace, to find one face_token), scale (1,000 and --scale-groups libraries of 1,000 faces, \
            and one library of 1,000,000: CPU per face and peak memory must not grow; --scale-in-own-process for a \
            user's process alone), latency (200 ms ± 50 ms per \
            call, 64 libraries at once: calls per second against 64 / 0.2 s), biggroup (one library of 200,000 \
            faces, 100 ms per call: wall time against pages / concurrency × latency), s3 (the faceexport binary \
            exporting --cpu-groups realistic libraries into NDJSON.gz, then into NDJSON.gz, CSV.gz and Parquet, \
            each to disk and to moto's S3 server on loopback in parts of 16 and 5 MiB: CPU, peak memory and wall \
            time over disk; moto runs in the readers' Python, as in the tests), s3-latency (640 libraries at \
            200 ms ± 50 ms a call, 64 at once, into NDJSON.gz and Parquet, to disk and to S3, twice: wall time \
            against disk when the API is the bottleneck).
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
            "Formats the cpu scenario exports into, in turn (comma-separated: ndjson, csv, sqlite, parquet, parquet-snappy, duckdb-parquet, ndjson-uncompressed, sqlite-merge, records-dropped, calls-only)."
    )
    var cpuFormats = "ndjson,csv,sqlite"

    @Option(help: "The scale scenario's output: ndjson (NDJSON.gz) or parquet.")
    var scaleFormat = "ndjson"

    @Option(help: "The parquet-lookup scenario's row groups, in MiB.")
    var lookupRowGroupSize = 4

    @Option(help: "Libraries of 1,000 faces of the scale scenario's large run.")
    var scaleGroups = 4000

    @Flag(
        help:
            "The scale scenario runs each export as `faceexport run` in a process of its own (the faceexport beside the bench), its CPU and peak memory counted by wait4: a user's process, with nothing of an earlier export in the figure."
    )
    var scaleInOwnProcess = false

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
        guard ["ndjson", "parquet"].contains(self.scaleFormat) else {
            throw ValidationError("--scale-format takes ndjson or parquet")
        }
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
            case "parquet-writer":
                results.append(try self.parquetWriterAlone(codec: .zstd(level: 3), name: scenario))
            case "parquet-writer-uncompressed":
                results.append(try self.parquetWriterAlone(codec: .none, name: scenario))
            case "sink-sqlite":
                results.append(try self.sinkAlone(.sqlite, file: "faces.sqlite"))
            case "cpu":
                results.append(contentsOf: try await self.cpu())
            case "sinks":
                results.append(contentsOf: try self.sinks())
            case "scale":
                results.append(contentsOf: try await self.scale())
            case "parquet-lookup":
                results.append(contentsOf: try await self.parquetLookup())
            case "latency":
                results.append(try await self.latency())
            case "biggroup":
                results.append(try await self.bigGroup())
            case "s3", "s3-latency":
                results.append(contentsOf: try await self.objectStorage(latency: scenario == "s3-latency"))
            default:
                throw ValidationError("unknown scenario '\(scenario)'")
            }
            // Scenarios of several results say each as it ends; the others are said here.
            if !["throttle", "throttle-drop", "cpu", "sinks", "scale", "parquet-lookup", "s3", "s3-latency"].contains(
                scenario
            ) {
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

    /// The cpu and parquet-lookup scenarios' simulator: --cpu-groups libraries of exactly 1,000 faces
    /// of --data.
    func cpuSimulator() throws -> SimulatorProcess {
        try SimulatorProcess(
            arguments: ["--groups", String(self.cpuGroups), "--faces", "1000", "--exact-sizes"]
                + (try self.datasetArguments())
        )
    }

    /// The exporter's own CPU per million faces against a simulator that neither waits nor limits.
    func cpu() async throws -> [BenchResult] {
        let simulator = try self.cpuSimulator()
        defer { simulator.stop() }
        var results: [BenchResult] = []
        // Each format's output; none for calls-only, which writes nothing.
        var outputs: [String: NamedOutput?] = Self.namedOutputs
        outputs["sqlite-merge"] = NamedOutput(format: .sqlite, file: "faces.sqlite")
        outputs["records-dropped"] = NamedOutput(format: .ndjson, file: "faces.ndjson")
        outputs["duckdb-parquet"] = NamedOutput(format: .ndjson, file: "faces.ndjson")
        outputs["calls-only"] = .some(nil)
        let formats = try self.cpuFormats.split(separator: ",").map { name in
            guard let output = outputs[String(name)] else {
                throw ValidationError("--cpu-formats: unknown format '\(name)'")
            }
            return (String(name), output)
        }
        for (name, output) in formats {
            var before = try await simulator.statistics()
            var zlibRatio: Double?
            var fileBytes: Int?
            var pyarrowBytes: Double?
            var conversion: (measured: BenchResult.Measured, fileBytes: Double)?
            var measured: BenchResult.Measured
            if let output {
                measured = try await self.export(
                    from: simulator,
                    rateLimit: .unlimited,
                    pageSize: 1000,
                    concurrency: 4,
                    format: output.format,
                    file: output.file,
                    mergingIntoAnEarlierRun: name == "sqlite-merge",
                    droppingEveryFace: name == "records-dropped",
                    configureOutput: { if let codec = output.codec { $0.parquetCodec = codec } },
                    measuring: { before = try await simulator.statistics() },
                    inspect: { path in
                        if path.hasSuffix(".gz") { zlibRatio = try Self.sizeAgainstZlib6(path) }
                        fileBytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size]) as? Int
                        if name == "parquet" { pyarrowBytes = try self.pyarrowFileBytes(sameRowsAs: path) }
                        if name == "duckdb-parquet" { conversion = try self.duckDBConversion(of: path) }
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
            // DuckDB's row is its conversion of the NDJSON this export wrote; the export is a figure.
            let export = measured
            if let conversion { measured = conversion.measured }
            var result = BenchResult(scenario: "cpu-\(name)", measured: measured, statistics: statistics)
            result.figures["cpu_seconds_per_million_faces"] = measured.cpuSecondsPerMillionFaces
            result.figures["faces_per_second"] = Double(measured.faces) / measured.wallSeconds
            if let zlibRatio { result.figures["size_vs_zlib6"] = zlibRatio }
            if let fileBytes { result.figures["file_megabytes"] = Double(fileBytes) / 1_048_576 }
            if let pyarrowBytes, let fileBytes {
                result.figures["pyarrow_zstd_megabytes"] = pyarrowBytes / 1_048_576
                result.figures["size_vs_pyarrow_zstd"] = Double(fileBytes) / pyarrowBytes
            }
            if let conversion {
                result.figures["file_megabytes"] = conversion.fileBytes / 1_048_576
                result.figures["ndjson_export_cpu_seconds_per_million_faces"] = export.cpuSecondsPerMillionFaces
                result.figures["with_export_cpu_seconds_per_million_faces"] =
                    export.cpuSecondsPerMillionFaces + measured.cpuSecondsPerMillionFaces
            }
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

    /// An output that --cpu-formats names: its format, its file, a Parquet codec other than the default.
    struct NamedOutput {
        var format: OutputSink.Format
        var file: String
        var codec: ParquetCodec? = nil
    }

    /// The sinks' outputs, by the names the cpu and sinks scenarios take in --cpu-formats.
    static let namedOutputs: [String: NamedOutput] = [
        "ndjson": NamedOutput(format: .ndjson, file: "faces.ndjson.gz"),
        "ndjson-uncompressed": NamedOutput(format: .ndjson, file: "faces.ndjson"),
        "csv": NamedOutput(format: .csv, file: "faces.csv.gz"),
        "sqlite": NamedOutput(format: .sqlite, file: "faces.sqlite"),
        "parquet": NamedOutput(format: .parquet, file: "faces.parquet"),
        "parquet-snappy": NamedOutput(format: .parquet, file: "faces.parquet", codec: .snappy),
        "parquet-uncompressed": NamedOutput(format: .parquet, file: "faces.parquet", codec: ParquetCodec.none),
    ]

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
    func export(
        from simulator: SimulatorProcess,
        rateLimit: RateLimitConfiguration,
        pageSize: Int,
        concurrency: Int,
        format: OutputSink.Format = .ndjson,
        file: String = "faces.ndjson.gz",
        mergingIntoAnEarlierRun: Bool = false,
        droppingEveryFace: Bool = false,
        configureOutput: (inout OutputSink.Configuration) -> Void = { _ in },
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
        configureOutput(&output)
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
            from: before,
            to: after
        )
    }
}
