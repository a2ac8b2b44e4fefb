import FaceSearch
import FaceSearchSimulation
import Foundation
import TestSupport

/// The same export, by the `faceexport` binary a user runs, into a local folder and into moto's S3
/// server on loopback, back to back: what object storage adds in CPU, memory and wall time.
extension BenchCommand {
    /// The outputs an object-storage scenario writes, by name.
    static let objectStorageOutputs: [String: [String]] = [
        "ndjson": ["{format: ndjson, path: faces.ndjson.gz}"],
        "three": [
            "{format: ndjson, path: faces.ndjson.gz}", "{format: csv, path: faces.csv.gz}",
            "{format: parquet, path: faces.parquet}",
        ],
    ]

    /// Where an object-storage scenario's runs go: a local folder, or S3 in parts of `partSize`,
    /// `inFlight` of an upload's parts sent at once; Parquet row groups of `rowGroupSize` when
    /// given (the lean settings for a pod with little memory), of the default otherwise.
    struct Destination: CustomStringConvertible {
        var store: (partSize: Int, inFlight: Int)?
        var rowGroupSize: Int?

        static let disk = Destination()

        static func objectStorage(partSize: Int, inFlight: Int) -> Destination {
            Destination(store: (partSize, inFlight))
        }

        /// Parts of 5 MiB (S3's least), one in flight, Parquet row groups of 4 MiB; and the same
        /// row groups on disk, to compare with.
        static let leanDisk = Destination(rowGroupSize: 4 << 20)
        static let leanObjectStorage = Destination(store: (5 << 20, 1), rowGroupSize: 4 << 20)

        var description: String {
            let place = self.store.map { "s3-\($0.partSize >> 20)mib-\($0.inFlight)-in-flight" } ?? "disk"
            return place + (self.rowGroupSize.map { "-row-groups-\($0 >> 20)mib" } ?? "")
        }
    }

    /// `s3`: --cpu-groups realistic libraries of 1,000 faces, no latency, into NDJSON.gz and into
    /// NDJSON.gz, CSV.gz and Parquet at once, each to disk, to S3 in parts of 16 MiB (two in flight,
    /// the default, and one) and of 5 MiB; the three outputs also with the lean settings.
    /// `s3-latency`: 640 libraries of 1,000 faces at 200 ms ± 50 ms a call, 64 at once, into
    /// NDJSON.gz and Parquet, to disk and to S3 (the defaults twice, then the lean settings): the
    /// wall time when the API is the bottleneck.
    func objectStorage(latency: Bool) async throws -> [BenchResult] {
        let store = try MotoServer(bucket: "bench")
        defer { store.stop() }
        let simulator =
            latency
            ? try SimulatorProcess(arguments: [
                "--groups", "640", "--faces", "1000", "--latency", "0.2", "--latency-jitter", "0.05", "--exact-sizes",
            ])
            : try self.cpuSimulator()
        defer { simulator.stop() }
        let faces = (latency ? 640 : self.cpuGroups) * 1000
        let plans: [(String, [String], [Destination])] =
            latency
            ? [
                (
                    "two",
                    ["{format: ndjson, path: faces.ndjson.gz}", "{format: parquet, path: faces.parquet}"],
                    [
                        .disk, .objectStorage(partSize: 16 << 20, inFlight: 2), .disk,
                        .objectStorage(partSize: 16 << 20, inFlight: 2), .leanDisk, .leanObjectStorage,
                    ]
                )
            ]
            : ["ndjson", "three"].map { name in
                (
                    name, Self.objectStorageOutputs[name]!,
                    [
                        .disk, .objectStorage(partSize: 16 << 20, inFlight: 2),
                        .objectStorage(partSize: 16 << 20, inFlight: 1), .objectStorage(partSize: 5 << 20, inFlight: 2),
                    ] + (name == "three" ? [.leanDisk, .leanObjectStorage] : [])
                )
            }
        var results: [BenchResult] = []
        for (name, outputs, destinations) in plans {
            var disk: BenchResult?
            for destination in destinations {
                let folder = NSTemporaryDirectory() + "faceexport-bench-" + UUID().uuidString
                defer { try? FileManager.default.removeItem(atPath: folder) }
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                let pipeline = Self.objectStoragePipeline(
                    simulator: simulator,
                    store: store,
                    folder: folder,
                    outputs: outputs,
                    destination: destination,
                    concurrency: latency ? 64 : 4
                )
                let before = try await simulator.statistics()
                let child = try Self.runExporter(
                    pipeline,
                    in: folder,
                    simulator: simulator,
                    environment: [
                        "AWS_ACCESS_KEY_ID": store.accessKeyID, "AWS_SECRET_ACCESS_KEY": store.secretAccessKey,
                    ]
                )
                var statistics = try await simulator.statistics()
                statistics.requests -= before.requests
                statistics.rejections -= before.rejections
                statistics.connectionsAccepted -= before.connectionsAccepted
                let measured = BenchResult.Measured(child, faces: faces)
                var result = BenchResult(
                    scenario: "\(latency ? "s3-latency" : "s3")-\(name)-\(destination)",
                    measured: measured,
                    statistics: statistics
                )
                result.figures["cpu_seconds_per_million_faces"] = measured.cpuSecondsPerMillionFaces
                if destination.store == nil {
                    disk = result
                } else if let disk {
                    result.figures["cpu_over_disk_per_million_faces"] =
                        measured.cpuSecondsPerMillionFaces - disk.measured.cpuSecondsPerMillionFaces
                    result.figures["peak_mb_over_disk"] = measured.peakResidentMB - disk.measured.peakResidentMB
                    result.figures["wall_vs_disk"] = measured.wallSeconds / disk.measured.wallSeconds
                }
                results.append(result)
                FileHandle.standardError.write(Data(result.line.utf8))
            }
        }
        return results
    }

    /// `faceexport run` of `pipeline`, written into `folder` (also the run's `HOME`), against
    /// `simulator`, in a process of its own; `environment` goes with the simulator's credentials.
    static func runExporter(
        _ pipeline: String,
        in folder: String,
        simulator: SimulatorProcess,
        environment: [String: String] = [:]
    ) throws -> ChildProcess {
        try pipeline.write(toFile: folder + "/bench.yaml", atomically: true, encoding: .utf8)
        return try ChildProcess.run(
            Self.exporterPath(),
            ["run", folder + "/bench.yaml"],
            environment: environment.merging([
                "FACESEARCH_API_KEY": simulator.credentials.apiKey,
                "FACESEARCH_API_SECRET": simulator.credentials.apiSecret, "HOME": folder, "PATH": "/usr/bin:/bin",
            ]) { $1 }
        )
    }

    /// The `faceexport` beside `faceexport-bench`.
    static func exporterPath() -> String {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("faceexport").path
    }

    static func objectStoragePipeline(
        simulator: SimulatorProcess,
        store: MotoServer,
        folder: String,
        outputs: [String],
        destination: Destination,
        concurrency: Int
    ) -> String {
        var place = "output_dir: \(folder)/out"
        if let (partSize, inFlight) = destination.store {
            place = """
                output_dir: s3://\(store.bucket)/\(UUID().uuidString)
                state: \(folder)/state
                storage: {endpoint: "\(store.endpoint)", path_style: true, proxy: none, part_size: \(partSize), parts_in_flight: \(inFlight)}
                """
        }
        let outputs = outputs.map { output in
            guard let rowGroupSize = destination.rowGroupSize, output.contains("format: parquet") else { return output }
            return output.dropLast() + ", row_group_size: \(rowGroupSize)}"
        }
        return Self.exportPipeline(simulator: simulator, place: place, outputs: outputs, concurrency: concurrency)
    }

    /// A pipeline exporting every library of `simulator` into `outputs` (flow mappings), placed by
    /// `place` (its `output_dir:` and storage keys), unpaced.
    static func exportPipeline(
        simulator: SimulatorProcess,
        place: String,
        outputs: [String],
        concurrency: Int
    ) -> String {
        """
        name: bench
        endpoint: \(simulator.endpoint)
        credentials: {api_key_env: FACESEARCH_API_KEY, api_secret_env: FACESEARCH_API_SECRET}
        groups: all
        concurrency: \(concurrency)
        page_size: 1000
        rate_limit: {mode: fixed, requests_per_second: 100000, burst: 1000, max_in_flight: \(concurrency)}
        \(place)
        outputs:
        \(outputs.map { "  - " + $0 }.joined(separator: "\n"))
        """
    }
}

/// A child process run to its end, with what the kernel counted of it alone (`wait4`).
struct ChildProcess {
    var status: Int32
    var wallSeconds: Double
    var cpuSeconds: Double
    var peakResidentMB: Double

    /// Runs `path` with `arguments` and exactly `environment`; its output is discarded.
    static func run(_ path: String, _ arguments: [String], environment: [String: String]) throws -> ChildProcess {
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var pid: pid_t = 0
        let started = Date()
        let spawned = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard spawned == 0 else { throw BenchFailure("cannot start \(path): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let wall = Date().timeIntervalSince(started)
        let cpu =
            Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) / 1e6
        // The exit status of a child that exited; a signal's number plus 128 otherwise.
        let exited = status & 0x7f == 0
        return ChildProcess(
            status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f),
            wallSeconds: wall,
            cpuSeconds: cpu,
            peakResidentMB: Double(usage.ru_maxrss) / 1024
        )
    }
}

extension BenchResult.Measured {
    /// What the kernel counted of `child`, an export of `faces` faces.
    init(_ child: ChildProcess, faces: Int) {
        self.init(
            outcome: child.status == 0 ? "complete" : "exit \(child.status)",
            faces: faces,
            wallSeconds: child.wallSeconds,
            cpuSeconds: child.cpuSeconds,
            peakResidentMB: child.peakResidentMB
        )
    }
}
