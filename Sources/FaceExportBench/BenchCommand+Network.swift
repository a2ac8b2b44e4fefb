import ArgumentParser
import ExportPipeline
import ExportSinks
import FaceExport
import FaceSearch
import FaceSearchSimulation
import Foundation
import Logging
import PipelineFile

/// The scenarios of pacing and latency: rate limits, throttling, scale, slow calls, one big library.
extension BenchCommand {

    func rateLimit(adaptive: Bool) async throws -> BenchResult {
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
    func throttle(limit: Int, drops: Bool) async throws -> BenchResult {
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

    /// CPU per face and peak memory at 1M faces, at `--scale-groups` × 1,000, and in one library of 1M.
    func scale() async throws -> [BenchResult] {
        var results: [BenchResult] = []
        for (name, groups, faces) in [
            ("scale-1000x1000", 1000, 1000), ("scale-\(self.scaleGroups)x1000", self.scaleGroups, 1000),
            ("scale-1x1000000", 1, 1_000_000),
        ] {
            let parquet = self.scaleFormat == "parquet"
            let simulator = ["--groups", String(groups), "--faces", String(faces)]
            var result: BenchResult
            if self.scaleInOwnProcess {
                let output =
                    parquet ? "{format: parquet, path: faces.parquet}" : "{format: ndjson, path: faces.ndjson.gz}"
                result = try await self.exportInItsOwnProcess(name, simulator: simulator, output: output)
            } else {
                (result, _) = try await self.exportFromItsOwnSimulator(
                    name,
                    simulator: simulator,
                    concurrency: 4,
                    format: parquet ? .parquet : .ndjson,
                    file: parquet ? "faces.parquet" : "faces.ndjson.gz"
                )
            }
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

    /// `faceexport run` into `output` against a simulator of its own made with `simulator`'s flags,
    /// concurrency 4, in a process of its own: what a user's run costs, counted by `wait4`.
    func exportInItsOwnProcess(
        _ name: String,
        simulator arguments: [String],
        output: String
    ) async throws -> BenchResult {
        let simulator = try SimulatorProcess(arguments: arguments + ["--exact-sizes"])
        defer { simulator.stop() }
        let folder = NSTemporaryDirectory() + "faceexport-bench-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let pipeline = Self.exportPipeline(
            simulator: simulator,
            place: "output_dir: \(folder)/out",
            outputs: [output],
            concurrency: 4
        )
        let child = try Self.runExporter(pipeline, in: folder, simulator: simulator)
        // The faces the run wrote, as its manifest counts them (none when it failed).
        let manifest = (try? Data(contentsOf: URL(fileURLWithPath: folder + "/out/manifest.json")))
            .flatMap { try? JSONSerialization.jsonObject(with: $0) }
        let files = (manifest as? [String: Any])?["files"] as? [[String: Any]]
        let measured = BenchResult.Measured(child, faces: files?.first?["rows"] as? Int ?? 0)
        return BenchResult(scenario: name, measured: measured, statistics: try await simulator.statistics())
    }

    /// 200 ms ± 50 ms per call and 64 libraries at once: calls per second against 64 / 0.2 s.
    func latency() async throws -> BenchResult {
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
    func bigGroup() async throws -> BenchResult {
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
    func exportFromItsOwnSimulator(
        _ scenario: String,
        simulator arguments: [String],
        concurrency: Int,
        format: OutputSink.Format = .ndjson,
        file: String = "faces.ndjson.gz"
    ) async throws -> (BenchResult, SimulatorStatistics) {
        let simulator = try SimulatorProcess(arguments: arguments + ["--exact-sizes"])
        defer { simulator.stop() }
        let measured = try await self.export(
            from: simulator,
            rateLimit: .unlimited,
            pageSize: 1000,
            concurrency: concurrency,
            format: format,
            file: file
        )
        let statistics = try await simulator.statistics()
        return (BenchResult(scenario: scenario, measured: measured, statistics: statistics), statistics)
    }
}
