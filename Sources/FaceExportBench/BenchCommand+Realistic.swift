import ArgumentParser
import ExportPipeline
import ExportSinks
import FaceExport
import FaceSearch
import FaceSearchSimulation
import Foundation
import Logging
import Synchronization
import Transport

/// The cpu scenario's yardsticks: the dataset, gzip size against zlib, SQLite's floor, the Python baseline.
extension BenchCommand {
    /// The simulator's dataset flags for `--data`.
    func datasetArguments() throws -> [String] {
        switch self.data {
        case "hard": return []
        case "realistic":
            return try self.realisticFaces().simulatorArguments
        default: throw ValidationError("--data takes realistic or hard")
        }
    }

    /// `--face-bytes` and `--hard-share`, checked.
    func realisticFaces() throws -> DatasetGenerator.RealisticFaces {
        let faces = DatasetGenerator.RealisticFaces(averageFaceBytes: self.faceBytes, hardShare: self.hardShare)
        if let problem = faces.problem { throw ValidationError(problem) }
        return faces
    }

    /// `--compression`: an engine, or an engine and a level (`zlib:6`).
    func gzipCompression() throws -> GzipCompression {
        let parts = self.compression.split(separator: ":", maxSplits: 1)
        guard let engine = parts.first.flatMap({ GzipCompression.Engine(rawValue: String($0)) }),
            let compression = GzipCompression(engine: engine, level: parts.count > 1 ? Int(parts[1]) ?? -1 : nil)
        else {
            throw ValidationError("--compression takes isal, libdeflate or zlib and a level of theirs, e.g. isal:2")
        }
        return compression
    }

    /// The gzip file's size against the same members compressed by zlib level 6 (Python's zlib):
    /// each member's bytes in a member of their own, as zlib in the same sink would write them.
    static func sizeAgainstZlib6(_ path: String) throws -> Double {
        let script = """
            import os, sys, zlib
            data, position, size, members = open(sys.argv[1], "rb").read(), 0, 0, 0
            while position < len(data):
                reader = zlib.decompressobj(31)
                member = reader.decompress(data[position:])
                position = len(data) - len(reader.unused_data)
                packer = zlib.compressobj(6, zlib.DEFLATED, 31)
                size += len(packer.compress(member)) + len(packer.flush())
                members += 1
            print(os.path.getsize(sys.argv[1]) / size, members)
            """
        let output = try Self.runCapturing("/usr/bin/python3", ["-c", script, path])
        guard let ratio = output.split(separator: " ").first.flatMap({ Double($0) }) else {
            throw ValidationError("could not compare \(path) with zlib level 6: \(output)")
        }
        return ratio
    }

    /// SQLite's own cost for `faces` rows like the dataset's, loaded by ``SQLiteFloor``.
    func sqliteFloor(faces: Int) throws -> BenchResult {
        let pages = try self.datasetPages(groups: 3, seed: 11).map(\.rows)
        let path = NSTemporaryDirectory() + "faceexport-bench-floor-" + UUID().uuidString + ".sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let floor = SQLiteFloor(pages)
        ResourceUsage.resetPeak()
        let started = Date()
        let before = ResourceUsage.threadCPUSeconds()
        try floor.load(count: max(faces, 1), path: path)
        let cpu = ResourceUsage.threadCPUSeconds() - before
        let measured = BenchResult.Measured(
            outcome: "complete",
            faces: max(faces, 1),
            wallSeconds: Date().timeIntervalSince(started),
            cpuSeconds: cpu,
            peakResidentMB: Double(ResourceUsage.now().peakResidentBytes) / 1_048_576
        )
        var result = BenchResult(scenario: "sqlite-floor", measured: measured, statistics: SimulatorStatistics())
        result.figures["cpu_seconds_per_million_faces"] = measured.cpuSecondsPerMillionFaces
        return result
    }

    /// The transform of the records-dropped format: a filter that leaves every face out (added
    /// since 2100), so the run does everything before the records and writes none.
    static var dropEveryFace: RecordTransform {
        var configuration = TransformConfiguration()
        configuration.filter.since = .absolute(milliseconds: 4_102_444_800_000)
        // A filter needs no key and passes the configuration's checks.
        return try! RecordTransform(
            configuration: configuration,
            hashKey: nil,
            run: .init(runID: "bench", startedAt: 0)
        )
    }

    /// The calls the cpu scenario's export makes (`group_list`, then for each library `get_size`, its
    /// pages of 1,000 through `list`, and `get_size` again), `concurrency` libraries at a time through
    /// the same transport, with the pages' answers not read: the floor of an export's calls.
    func callsOnly(_ simulator: SimulatorProcess, concurrency: Int) async throws -> BenchResult.Measured {
        var logger = Logger(label: "faceexport.bench")
        logger.logLevel = .error
        let client = try Self.client(of: simulator, logger: logger)
        ResourceUsage.resetPeak()
        let before = ResourceUsage.now()
        let started = Date()
        let faces = try await BlockingWork.run { () throws -> Int in
            let groups = try client.listGroups()
            let next = Atomic<Int>(0)
            let faces = Atomic<Int>(0)
            let failure = Mutex<String?>(nil)
            let workers = DispatchGroup()
            for worker in 0..<concurrency {
                DispatchQueue(label: "faceexport.bench.calls-\(worker)").async(group: workers) {
                    while failure.withLock({ $0 == nil }) {
                        let index = next.add(1, ordering: .relaxed).oldValue
                        guard index < groups.count else { return }
                        let groupID = groups[index].groupID
                        do {
                            let size = try client.groupSize(groupID: groupID)
                            for start in stride(from: 1, through: size, by: 1000) {
                                let fields = [("group_id", groupID), ("start", String(start)), ("limit", "1000")]
                                let answer = try client.exchange("list", fields: fields).get()
                                guard answer.status == 200 else { throw ValidationError("HTTP \(answer.status)") }
                            }
                            _ = try client.groupSize(groupID: groupID)
                            faces.add(size, ordering: .relaxed)
                        } catch {
                            failure.withLock { $0 = $0 ?? "\(groupID): \(error)" }
                        }
                    }
                }
            }
            workers.wait()
            if let failure = failure.withLock({ $0 }) {
                throw ValidationError("the calls-only scenario's call failed: \(failure)")
            }
            return faces.load(ordering: .relaxed)
        }
        let after = ResourceUsage.now()
        return BenchResult.Measured(
            faces: faces,
            wallSeconds: Date().timeIntervalSince(started),
            from: before,
            to: after
        )
    }

    /// `samples/baseline/python_exporter.py` against the same simulator: its CPU per million faces.
    func pythonBaseline(_ simulator: SimulatorProcess) throws -> BenchResult {
        let script = FileManager.default.currentDirectoryPath + "/samples/baseline/python_exporter.py"
        guard FileManager.default.fileExists(atPath: script) else {
            throw ValidationError("--compare-baseline runs \(script): run the bench from the repository's top folder")
        }
        let output = NSTemporaryDirectory() + "faceexport-bench-python-" + UUID().uuidString + ".ndjson.gz"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script, "--endpoint", simulator.endpoint, "--out", output]
        var environment = ProcessInfo.processInfo.environment
        environment["FACESEARCH_API_KEY"] = simulator.credentials.apiKey
        environment["FACESEARCH_API_SECRET"] = simulator.credentials.apiSecret
        process.environment = environment
        let before = Self.childrenCPUSeconds()
        let started = Date()
        try process.run()
        process.waitUntilExit()
        let wall = Date().timeIntervalSince(started)
        guard process.terminationStatus == 0 else {
            throw ValidationError("the Python baseline exited with \(process.terminationStatus)")
        }
        let lines = try Self.runCapturing("/bin/sh", ["-c", "gzip -dc \"$1\" | wc -l", "sh", output])
        let measured = BenchResult.Measured(
            outcome: "complete",
            faces: Int(lines.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0,
            wallSeconds: wall,
            cpuSeconds: Self.childrenCPUSeconds() - before,
            peakResidentMB: 0
        )
        var result = BenchResult(scenario: "python-baseline", measured: measured, statistics: SimulatorStatistics())
        result.figures["cpu_seconds_per_million_faces"] = measured.cpuSecondsPerMillionFaces
        return result
    }

    /// CPU seconds of the children this process has waited for.
    private static func childrenCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) / 1e6
    }

    private static func runCapturing(_ path: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
