import FaceExportCrypto
import Foundation
import TestSupport
import Testing

/// Every point of a run is safe to die at.
///
/// The real binary is killed (SIGKILL) before its N-th file step, for every N of a small run (and
/// half-way through every write, a torn write), then resumed, or started again as the next night
/// would be; at sampled points its journal is damaged first. Each time the outputs must be what a
/// run that was never interrupted makes (every face exactly once, byte for byte), the manifest must
/// agree with the files, nothing may be left behind, and until the commit began, the previous
/// night's outputs must be as they were, byte for byte.
///
/// `FACEEXPORT_LONG_SWEEP=1` sweeps a larger run (more libraries and pages, so more points).
struct CrashSweepTests {
    struct Scenario: Sendable, CustomStringConvertible {
        var name: String
        var outputs: [String]
        var description: String { self.name }
    }

    static let scenarios = [
        Scenario(
            name: "ndjson.gz, csv.gz by library, sqlite replace",
            outputs: [
                "{format: ndjson, path: faces.ndjson.gz}",
                #"{format: csv, path: "dt={date}/group={group}/faces.csv.gz"}"#,
                "{format: sqlite, path: faces.sqlite}",
            ]
        ),
        Scenario(
            name: "sqlite merge with changes, csv.gz, parquet",
            outputs: [
                "{format: sqlite, path: merged.sqlite, mode: merge, changes: changes.ndjson}",
                "{format: csv, path: faces.csv.gz}",
                #"{format: parquet, path: "dt={date}/faces.parquet"}"#,
            ]
        ),
    ]

    static let long = ProcessInfo.processInfo.environment["FACEEXPORT_LONG_SWEEP"] == "1"

    static func pipeline(seed: Int, outputs: [String]) -> String {
        """
        name: sweep
        endpoint: embedded
        simulator: {groups: \(Self.long ? 6 : 3), faces: \(Self.long ? 120 : 30), seed: \(seed)}
        concurrency: 1
        page_size: 10
        rate_limit: {mode: fixed, requests_per_second: 1000, burst: 10}
        output_dir: unused
        outputs:
        \(outputs.map { "  - " + $0 }.joined(separator: "\n"))
        """
    }

    /// How a crash point is hit, and what is done to the journal before the resume.
    struct Point: Sendable {
        var step: Int
        var tear: Bool
        var damage: JournalDamage?
    }

    enum JournalDamage: Int, CaseIterable, Sendable {
        case flippedByte, splitLine, zeroedTail, cutMiddle

        /// Damages `bytes` somewhere after the first line, at a place chosen by `seed`.
        func apply(to bytes: inout [UInt8], seed: Int) {
            guard let firstLine = bytes.firstIndex(of: 0x0A), bytes.count > firstLine + 8 else { return }
            let span = bytes.count - firstLine - 1
            let at = firstLine + 1 + (seed * 7919) % span
            switch self {
            case .flippedByte: bytes[at] ^= 0x20
            case .splitLine: bytes.insert(0x0A, at: at)
            case .zeroedTail: for index in at..<bytes.count { bytes[index] = 0 }
            case .cutMiddle: bytes.removeSubrange(at..<min(bytes.count, at + max(1, span / 4)))
            }
        }
    }

    /// A folder with last night's outputs (`previous`), tonight's pipeline (`tonight.yaml`) and an
    /// uninterrupted run of it (`reference`).
    struct Night {
        var folder: String
        /// SHA-256 of last night's files, by path.
        var previous: [String: String]
        /// What tonight's outputs hold when nothing goes wrong.
        var expected: [String: String]
        /// The kinds of tonight's file steps, in order.
        var steps: [Substring]

        /// Runs `faceexport run tonight.yaml --out OUT` with more arguments and environment.
        func run(
            out: String,
            _ more: [String] = [],
            environment: [String: String] = [:]
        ) async throws
            -> CommandLineTests.Outcome
        {
            try await CommandLineTests.faceexport(
                ["run", self.folder + "/tonight.yaml", "--out", out] + more,
                environment: environment
            )
        }

        /// A copy of last night's folder, for one run of tonight's pipeline.
        func copyOfLastNight(_ name: String) throws -> String {
            let out = self.folder + "/" + name
            _ = try runProgram("/bin/cp", ["-a", self.folder + "/previous", out])
            return out
        }
    }

    static func prepareNight(outputs: [String]) async throws -> Night {
        let folder = try makeTemporaryDirectory()
        try Self.pipeline(seed: 12, outputs: outputs).write(
            toFile: folder + "/previous.yaml",
            atomically: true,
            encoding: .utf8
        )
        try Self.pipeline(seed: 11, outputs: outputs).write(
            toFile: folder + "/tonight.yaml",
            atomically: true,
            encoding: .utf8
        )
        // Last night's outputs, which every crashed run must leave as they are until it commits.
        let previous = try await CommandLineTests.faceexport(
            ["run", folder + "/previous.yaml", "--out", folder + "/previous"]
        )
        #expect(previous.status == 0, "\(previous.stderr)")
        var night = Night(
            folder: folder,
            previous: try Self.fileDigests(folder + "/previous"),
            expected: [:],
            steps: []
        )
        // Tonight's run, never interrupted: what every crashed run must end in.
        let reference = try await night.run(
            out: try night.copyOfLastNight("reference"),
            environment: ["FACEEXPORT_TEST_STEP_LOG": folder + "/reference.steps"]
        )
        #expect(reference.status == 0, "\(reference.stderr)")
        night.expected = try Self.normalizedOutputs(folder + "/reference")
        night.steps = try String(contentsOfFile: folder + "/reference.steps", encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: " ")[1] }
        return night
    }

    @Test(.timeLimit(.minutes(Self.long ? 60 : 10)), arguments: Self.scenarios)
    func everyCrashPointEndsInTheOutputsOfARunThatNeverCrashed(_ scenario: Scenario) async throws {
        let night = try await Self.prepareNight(outputs: scenario.outputs)
        let steps = night.steps
        var points = (1...steps.count).map { Point(step: $0, tear: false) }
        points += steps.enumerated().filter { $0.element == "write" || $0.element == "journal" }.map {
            Point(step: $0.offset + 1, tear: true)
        }
        for index in points.indices where index % 5 == 2 {
            points[index].damage = JournalDamage.allCases[index / 5 % JournalDamage.allCases.count]
        }

        let failures = Failures()
        await withTaskGroup(of: Void.self) { group in
            var next = 0
            // One point at a time per scenario: the two scenarios already run side by side, and the
            // suite's timing-sensitive tests share this two-core machine with them.
            for _ in 0..<1 {
                guard next < points.count else { break }
                let point = points[next]
                next += 1
                group.addTask { await Self.check(point, night: night, failures: failures) }
            }
            while await group.next() != nil, next < points.count {
                let point = points[next]
                next += 1
                group.addTask { await Self.check(point, night: night, failures: failures) }
            }
        }
        let found = await failures.all
        let torn = points.filter(\.tear).count
        let damaged = points.filter { $0.damage != nil }.count
        print(
            "crash sweep (\(scenario.name)): \(points.count) crash points (\(steps.count) steps, \(torn) torn "
                + "writes), \(damaged) with a damaged journal; \(found.count) failed"
        )
        #expect(found.isEmpty, "\(found.prefix(5).joined(separator: "\n"))")
        #expect(points.count >= 100)
    }

    actor Failures {
        var all: [String] = []
        func add(_ failure: String) { self.all.append(failure) }
    }

    /// Crashes a copy of last night's folder at `point`, resumes it, and checks the outcome.
    static func check(_ point: Point, night: Night, failures: Failures) async {
        let name = "step \(point.step)\(point.tear ? " (torn)" : "")\(point.damage.map { ", journal \($0)" } ?? "")"
        do {
            let out = try night.copyOfLastNight("p\(point.step)\(point.tear ? "t" : "")")
            let crashed = try await night.run(
                out: out,
                environment: [
                    "FACEEXPORT_TEST_CRASH_AT": "\(point.step)\(point.tear ? ":tear" : "")",
                    "FACEEXPORT_TEST_STEP_LOG": out + ".steps",
                ]
            )
            guard crashed.status == SIGKILL else {
                return await failures.add("\(name): the run was not killed (exit \(crashed.status)): \(crashed.stderr)")
            }
            let log = try String(contentsOfFile: out + ".steps", encoding: .utf8)
            let commitBegan = log.split(separator: "\n").dropLast().contains { $0.split(separator: " ")[1] == "rename" }
            if !commitBegan, try Self.fileDigests(out) != night.previous {
                await failures.add("\(name): last night's outputs changed before the commit")
            }
            let journal = out + "/.faceexport/sweep.journal"
            if let damage = point.damage, var bytes = FileManager.default.contents(atPath: journal).map(Array.init) {
                damage.apply(to: &bytes, seed: point.step)
                try Data(bytes).write(to: URL(fileURLWithPath: journal))
            }
            var resumed = try await night.run(out: out, ["--resume"])
            if resumed.status != 0 {
                // Nothing to resume (the run died before its journal named it, or after the commit), or,
                // with a damaged journal only, a refusal that says to start over: the next night's run.
                let refusal =
                    resumed.stderr.contains("nothing to resume")
                    || point.damage != nil && resumed.stderr.contains("start over")
                guard [3, 4].contains(resumed.status), refusal else {
                    return await failures.add("\(name): --resume exited \(resumed.status): \(resumed.stderr)")
                }
                resumed = try await night.run(out: out)
                guard resumed.status == 0 else {
                    return await failures.add("\(name): the next run exited \(resumed.status): \(resumed.stderr)")
                }
            }
            let outputs = try Self.normalizedOutputs(out)
            if outputs != night.expected {
                let differing = Set(outputs.keys).union(night.expected.keys).filter {
                    outputs[$0] != night.expected[$0]
                }.sorted()
                await failures.add("\(name): the outputs differ from an uninterrupted run's in \(differing)")
            }
            let leftovers = try FileManager.default.subpathsOfDirectory(atPath: out).filter {
                $0.contains(".tmp-") || $0.hasSuffix(".journal")
            }
            if !leftovers.isEmpty { await failures.add("\(name): left behind \(leftovers)") }
            try? FileManager.default.removeItem(atPath: out)
        } catch {
            await failures.add("\(name): \(error)")
        }
    }

    /// SHA-256 of every file a reader sees (hidden files, the journal and temporary files, left out).
    static func fileDigests(_ folder: String) throws -> [String: String] {
        var digests: [String: String] = [:]
        for path in try Self.visibleFiles(folder) {
            var digest = SHA256Digest()
            let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + path))
            data.withUnsafeBytes { digest.update($0) }
            digests[path] = digest.hexDigest()
        }
        return digests
    }

    static func visibleFiles(_ folder: String) throws -> [String] {
        try FileManager.default.subpathsOfDirectory(atPath: folder).filter { path in
            !path.split(separator: "/").contains { $0.hasPrefix(".") }
                && !FileManager.default.isDirectory(folder + "/" + path)
        }.sorted()
    }

    /// What the outputs hold, independent of run ids and timings: text files as their sorted lines,
    /// SQLite files as their faces and libraries; the manifest checked against the files it names.
    static func normalizedOutputs(_ folder: String) throws -> [String: String] {
        var outputs: [String: String] = [:]
        let digests = try Self.fileDigests(folder)
        for path in try Self.visibleFiles(folder) {
            let full = folder + "/" + path
            if path.hasSuffix(".gz") {
                let text = String(decoding: try runProgram("/bin/gzip", ["-dc", full]), as: UTF8.self)
                outputs[path] = text.split(separator: "\n", omittingEmptySubsequences: false).sorted().joined(
                    separator: "\n"
                )
            } else if path.hasSuffix(".sqlite") {
                let query = """
                    SELECT group_id, face_token, user_id, user_data, add_time, add_time_utc, change, deleted_run IS NULL
                    FROM faces ORDER BY group_id, face_token;
                    SELECT account, group_id, status, expected, exported FROM groups ORDER BY 1, 2;
                    SELECT count(*), sum(outcome = 'complete') FROM runs;
                    PRAGMA integrity_check;
                    """
                outputs[path] = String(decoding: try runProgram("/usr/bin/sqlite3", [full, query]), as: UTF8.self)
            } else if path.hasSuffix(".parquet") {
                // Read by pyarrow, as the rows' values, sorted: pages arrive in another order each run.
                let script = """
                    import json, sys, pyarrow as pa, pyarrow.parquet as pq
                    t = pq.ParquetFile(sys.argv[1]).read()
                    t = t.set_column(4, 'add_time', t.column(4).cast(pa.int64()))
                    print('\\n'.join(sorted(json.dumps(r, ensure_ascii=False) for r in t.to_pylist())))
                    """
                outputs[path] = String(decoding: try PythonReaders.run(script, [full]), as: UTF8.self)
            } else if path.hasSuffix("manifest.json") {
                let manifest = try #require(
                    try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: full)))
                        as? [String: Any]
                )
                var summary = [
                    "outcome \(manifest["outcome"] ?? "")",
                    "totals \((manifest["totals"] as? [String: Any])?["faces"] ?? "")",
                ]
                for file in manifest["files"] as? [[String: Any]] ?? [] {
                    let filePath = String(describing: file["path"] ?? "")
                    let relative =
                        filePath.hasPrefix(folder + "/") ? String(filePath.dropFirst(folder.count + 1)) : filePath
                    let matches = digests[relative] == file["sha256"] as? String
                    summary.append("\(relative) rows \(file["rows"] ?? "") sha256 \(matches ? "matches" : "DIFFERS")")
                }
                outputs[path] = summary.sorted().joined(separator: "\n")
            } else {
                let text = try String(contentsOfFile: full, encoding: .utf8)
                outputs[path] = text.split(separator: "\n", omittingEmptySubsequences: false).sorted().joined(
                    separator: "\n"
                )
            }
        }
        return outputs
    }
}

extension FileManager {
    fileprivate func isDirectory(_ path: String) -> Bool {
        var directory: ObjCBool = false
        return self.fileExists(atPath: path, isDirectory: &directory) && directory.boolValue
    }
}
