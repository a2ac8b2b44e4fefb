import ExportSinks
import FaceExport
import FaceExportBuild
import FaceSearchSimulation
import Foundation
import PipelineFile
import TestSupport
import Testing

@testable import ExportPipeline

/// Running unattended: lock, signals, exit codes, JSON logs, metrics, shards, schedules.
@Suite(.timeLimit(.minutes(10)))
struct OperationsTests {
    static func pipeline(
        folder: String,
        latency: Double = 0,
        groups: Int = 12,
        extra: String = "",
        paths: String? = nil
    ) -> String {
        embeddedPipeline(
            name: "ops",
            folder: folder,
            groups: groups,
            faces: 600,
            seed: 8,
            latency: latency,
            extra: extra,
            outputs: ["{format: ndjson, path: \"\(paths ?? "faces.ndjson")\"}"]
        )
    }

    /// Starts `faceexport run` and returns once its debug log has said `marker` `count` times; sends
    /// `signal` at that moment when given.
    ///
    /// The signal goes from the thread that read the marker: the test's own task may wait seconds for
    /// a thread of the cooperative pool on a loaded machine, while the run goes on to its end.
    static func startSlowRun(
        _ pipeline: String,
        libraries: Int = 2,
        marker: String = "library walked",
        signal: Int32? = nil,
        environment: [String: String] = [:]
    ) async throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLineTests.binary)
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let words = pipeline.split(separator: " ").map(String.init)
        process.arguments = ["run"] + words + ["--log-level", "debug", "--log-format", "text"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        await runOffThePool {
            var text = ""
            while text.components(separatedBy: marker).count <= libraries {
                let chunk = errors.fileHandleForReading.availableData
                // The run ended first: there is nothing left to signal.
                if chunk.isEmpty { return }
                text += String(decoding: chunk, as: UTF8.self)
            }
            if let signal { kill(pid, signal) }
        }
        return process
    }

    static func wait(_ process: Process) async -> Int32 {
        await runOffThePool {
            process.waitUntilExit()
            return process.terminationStatus
        }
    }

    @Test func aSecondRunOnTheSameOutputExitsWithTheLockCodeAndALockLeftByAKilledRunIsTakenOver() async throws {
        let folder = try makeTemporaryDirectory()
        // A first run far longer than a loaded machine may take to start the second (it is killed
        // anyway): with 60 libraries it once ended before the second run looked at the lock.
        try Self.pipeline(folder: folder, latency: 0.05, groups: 600).write(
            toFile: folder + "/slow.yaml",
            atomically: true,
            encoding: .utf8
        )
        try Self.pipeline(folder: folder).write(toFile: folder + "/fast.yaml", atomically: true, encoding: .utf8)
        let first = try await Self.startSlowRun(folder + "/slow.yaml")
        let second = try await CommandLineTests.faceexport(["run", folder + "/fast.yaml"])
        let firstRun = first.isRunning ? "still runs" : "had ended with \(first.terminationStatus)"
        #expect(second.status == 5, "\(second.stderr); the first run \(firstRun)")
        #expect(second.stderr.contains("another run of this pipeline holds"))
        #expect(second.stderr.contains("pid \(first.processIdentifier)"))
        kill(first.processIdentifier, SIGKILL)
        _ = await Self.wait(first)
        let third = try await CommandLineTests.faceexport(["run", folder + "/fast.yaml"])
        #expect(third.status == 0, "the dead run's lock is taken over: \(third.stderr)")
    }

    @Test func sigtermStopsTheRunWith143AndKeepsThePreviousOutputsAndTheJournal() async throws {
        let folder = try makeTemporaryDirectory()
        try Self.pipeline(folder: folder).write(toFile: folder + "/fast.yaml", atomically: true, encoding: .utf8)
        try Self.pipeline(folder: folder, latency: 0.05, groups: 60).write(
            toFile: folder + "/slow.yaml",
            atomically: true,
            encoding: .utf8
        )
        #expect(try await CommandLineTests.faceexport(["run", folder + "/fast.yaml"]).status == 0)
        let before = try KillTests.snapshot(folder + "/out")
        let run = try await Self.startSlowRun(folder + "/slow.yaml", signal: SIGTERM)
        #expect(await Self.wait(run) == 143)
        #expect(try KillTests.snapshot(folder + "/out") == before)
        // The interrupted run keeps its journal (and hidden temporary files) for `--resume`.
        #expect(FileManager.default.fileExists(atPath: folder + "/out/.faceexport/ops.journal"))
    }

    /// The widest run the pipeline file allows: every walker holds a thread of libdispatch's pool, and
    /// the transformer, the sink, the pages fetched ahead and the signal handler still get theirs.
    @Test func theMostLibrariesAtOnceExportEveryFaceOnce() async throws {
        let folder = try makeTemporaryDirectory()
        let groups = 2 * ExportConfiguration.maximumConcurrency
        let wide = Self.pipeline(folder: folder, groups: groups)
            .replacingOccurrences(of: "concurrency: 2", with: "concurrency: \(ExportConfiguration.maximumConcurrency)")
        try wide.write(toFile: folder + "/wide.yaml", atomically: true, encoding: .utf8)
        let run = try await CommandLineTests.faceexport(["run", folder + "/wide.yaml"])
        #expect(run.status == 0, "\(run.stderr)")
        let dataset = DatasetGenerator(groups: groups, faces: 600, sizing: .mixed, seed: 8).make()
        let rows = try readNDJSON(folder + "/out/faces.ndjson")
        #expect(rows.count == dataset.faceCount)
        #expect(Set(rows) == Set(expectedRows(dataset.groups)))
    }

    /// A fixed rate far above what the API admits still exports everything, and the summary says how
    /// many calls the API refused and what to change.
    @Test func aRateFarAboveTheAPIsLimitIsReportedWithWhatToChange() async throws {
        let folder = try makeTemporaryDirectory()
        let throttled = Self.pipeline(folder: folder, groups: 8)
            .replacingOccurrences(
                of: "faults: {latency: 0.0}",
                with: "faults: {latency: 0.0, rate_limit: 10, limit_status: 429}"
            )
        #expect(throttled.contains("rate_limit: 10") && throttled.contains("mode: fixed, requests_per_second: 1000"))
        try throttled.write(toFile: folder + "/throttled.yaml", atomically: true, encoding: .utf8)
        let run = try await CommandLineTests.faceexport(["run", folder + "/throttled.yaml"])
        #expect(run.status == 0, "\(run.stderr)")
        let requests = try #require(run.stderr.split(separator: "\n").first { $0.hasPrefix("  requests") })
        #expect(requests.contains("throttled by the API"), "\(requests)")
        #expect(run.stderr.contains("THROTTLED the API refused"), "\(run.stderr)")
        #expect(run.stderr.contains("lower rate_limit.requests_per_second"))
    }

    @Test func logsOffATerminalAreJSONLinesWithTheRunIDAndNoSecret() async throws {
        let secretFile = try makeTemporaryDirectory() + "/secret"
        let secret = "s3cr3t-" + UUID().uuidString
        try secret.write(toFile: secretFile, atomically: true, encoding: .utf8)
        let (simulator, banner) = try await CommandLineTests.startSimulator([
            "--groups", "4", "--faces", "50", "--api-key", "ops-key", "--api-secret-file", secretFile,
        ])
        defer {
            simulator.terminate()
            simulator.waitUntilExit()
        }
        let url = try #require(banner.split(separator: " ").first { $0.hasPrefix("http://") }.map(String.init))
        let folder = try makeTemporaryDirectory()
        try Self.pipeline(folder: folder).write(toFile: folder + "/p.yaml", atomically: true, encoding: .utf8)
        let groups = folder + "/groups.txt"
        try "grp-0000\ngrp-0001\nnot-there\n".write(toFile: groups, atomically: true, encoding: .utf8)
        let result = try await CommandLineTests.faceexport(
            ["run", folder + "/p.yaml", "--endpoint", url, "--groups-file", groups, "--log-level", "debug"],
            environment: ["FACESEARCH_API_KEY": "ops-key", "FACESEARCH_API_SECRET": secret]
        )
        #expect(result.status == 2)
        let lines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("{") }
        #expect(lines.count >= 3)
        for line in lines {
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                "\(line)"
            )
            #expect(object["run_id"] is String, "every line names the run: \(line)")
            #expect(object["level"] is String && object["message"] is String)
        }
        #expect(lines.contains { $0.contains("\"group\":\"not-there\"") })
        #expect(!result.stderr.contains(secret) && !result.stdout.contains(secret))
        #expect(!result.stderr.contains("ops-key") && !result.stdout.contains("ops-key"), "nor the API key")
        // The sign embeds the key, and the secret never leaves the process: neither is in any output file.
        for file in try FileManager.default.subpathsOfDirectory(atPath: folder + "/out") {
            let data = (try? Data(contentsOf: URL(fileURLWithPath: folder + "/out/" + file))) ?? Data()
            #expect(data.range(of: Data(secret.utf8)) == nil)
        }
    }

    @Test func metricsFileIsPrometheusTextAndKeepsTheLastSuccessAcrossAFailedRun() async throws {
        let folder = try makeTemporaryDirectory()
        let metrics = folder + "/faceexport.prom"
        try Self.pipeline(folder: folder, extra: "metrics_file: \(metrics)").write(
            toFile: folder + "/p.yaml",
            atomically: true,
            encoding: .utf8
        )
        #expect(try await CommandLineTests.faceexport(["run", folder + "/p.yaml"]).status == 0)
        let text = try String(contentsOfFile: metrics, encoding: .utf8)
        let dataset = DatasetGenerator(groups: 12, faces: 600, sizing: .mixed, seed: 8).make()
        #expect(text.contains("faceexport_faces_exported{pipeline=\"ops\"} \(dataset.faceCount)\n"))
        #expect(text.contains("faceexport_groups{pipeline=\"ops\",status=\"complete\"} 12\n"))
        #expect(text.contains("faceexport_last_run_outcome{pipeline=\"ops\",outcome=\"complete\"} 1\n"))
        #expect(text.contains("# TYPE faceexport_requests gauge\n"))
        let success = try #require(
            text.split(separator: "\n").first { $0.hasPrefix("faceexport_last_success_timestamp_seconds") }
        )
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            #expect(
                line.wholeMatch(of: /faceexport_[a-z_]+\{pipeline="ops"(,[a-z]+="[a-z0-9_.+-]+")?\} -?[0-9.e+]+/)
                    != nil,
                "\(line)"
            )
        }
        // A run the API refuses (the deadline passes at once) keeps the last success's time.
        try Self.pipeline(folder: folder, extra: "metrics_file: \(metrics)\ndeadline: 0.000001").write(
            toFile: folder + "/late.yaml",
            atomically: true,
            encoding: .utf8
        )
        #expect(try await CommandLineTests.faceexport(["run", folder + "/late.yaml"]).status == 3)
        let after = try String(contentsOfFile: metrics, encoding: .utf8)
        #expect(after.contains("faceexport_last_run_outcome{pipeline=\"ops\",outcome=\"failed\"} 1\n"))
        #expect(after.contains(String(success) + "\n"))
    }

    @Test func theVersionIsOnTheCommandLineInTheManifestAndInTheMetrics() async throws {
        let version = try await CommandLineTests.faceexport(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout == ExporterVersion.full + "\n")
        #expect(ExporterVersion.full.wholeMatch(of: /[0-9]+\.[0-9]+\.[0-9]+(\+[0-9a-f]{12}(-dirty)?)?/) != nil)
        // Built from a checkout (as CI and the quick start are), the commit is the checkout's.
        if FileManager.default.fileExists(atPath: CommandLineTests.packageRoot + "/.git") {
            let head = String(
                decoding: try runProgram("/usr/bin/git", ["-C", CommandLineTests.packageRoot, "rev-parse", "HEAD"]),
                as: UTF8.self
            )
            let commit = try #require(ExporterVersion.commit, "a build from a checkout embeds its commit")
            #expect(head.hasPrefix(commit.prefix(12)))
        }

        let folder = try makeTemporaryDirectory()
        let metrics = folder + "/faceexport.prom"
        try Self.pipeline(folder: folder, extra: "metrics_file: \(metrics)")
            .write(toFile: folder + "/p.yaml", atomically: true, encoding: .utf8)
        #expect(try await CommandLineTests.faceexport(["run", folder + "/p.yaml"]).status == 0)
        let manifest = try #require(
            JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/out/manifest.json")))
                as? [String: Any]
        )
        #expect(manifest["manifest_version"] as? Int == 1)
        let exporter = try #require(manifest["exporter"] as? [String: String])
        #expect(exporter == ["name": "faceexport", "version": ExporterVersion.full])
        let text = try String(contentsOfFile: metrics, encoding: .utf8)
        #expect(text.contains("faceexport_build_info{pipeline=\"ops\",version=\"\(ExporterVersion.full)\"} 1\n"))

        // A reader of the format refuses a newer one instead of misreading it.
        var newer = manifest
        newer["manifest_version"] = ManifestFormat.version + 1
        newer["shard"] = ["index": 0, "count": 1]
        try JSONSerialization.data(withJSONObject: newer).write(to: URL(fileURLWithPath: folder + "/newer.json"))
        let refused = try await CommandLineTests.faceexport(["merge-manifests", folder + "/newer.json"])
        #expect(refused.status == 4)
        #expect(refused.stderr.contains("manifest_version 2 is newer than this faceexport reads (1)"))
    }

    @Test func aManifestThatCannotBeReadIsNamedInOnePlainLine() throws {
        let folder = try makeTemporaryDirectory()
        try Data("nope".utf8).write(to: URL(fileURLWithPath: folder + "/not-json.json"))
        try Data(#"{"pipeline": "p"}"#.utf8).write(to: URL(fileURLWithPath: folder + "/partial.json"))
        let cases = [
            (folder + "/missing.json", "cannot read \(folder)/missing.json; check the path and its permissions"),
            (folder + "/not-json.json", "\(folder)/not-json.json: not a faceexport manifest (it is not JSON)"),
            (folder + "/partial.json", "\(folder)/partial.json: not a faceexport manifest (it has no run_id)"),
        ]
        for (path, message) in cases {
            #expect(throws: LaunchError.self) { try ShardCompletion(manifests: [path]) }
            do {
                _ = try ShardCompletion(manifests: [path])
            } catch {
                #expect(error.description == message)
            }
        }
    }

    @Test func shardsTogetherExportExactlyTheLibrariesOfAnUnshardedRun() async throws {
        let folder = try makeTemporaryDirectory()
        try Self.pipeline(folder: folder, groups: 20).write(
            toFile: folder + "/all.yaml",
            atomically: true,
            encoding: .utf8
        )
        try Self.pipeline(
            folder: folder,
            groups: 20,
            extra: "manifest: manifest-{shard}.json",
            paths: "faces-{shard}.ndjson"
        )
        .write(toFile: folder + "/sharded.yaml", atomically: true, encoding: .utf8)
        #expect(try await CommandLineTests.faceexport(["run", folder + "/all.yaml"]).status == 0)
        let all = try readNDJSON(folder + "/out/faces.ndjson")
        var sharded: [OutputRow] = []
        var manifests: [String] = []
        for index in 0..<3 {
            let result = try await CommandLineTests.faceexport([
                "run", folder + "/sharded.yaml", "--shard", "\(index)/3",
            ])
            #expect(result.status == 0, "\(result.stderr)")
            sharded += try readNDJSON(folder + "/out/faces-\(index)-of-3.ndjson")
            manifests.append(folder + "/out/manifest-\(index)-of-3.json")
        }
        #expect(sharded.count == all.count)
        #expect(Set(sharded) == Set(all))
        let merged = try await CommandLineTests.faceexport(["merge-manifests"] + manifests)
        #expect(merged.status == 0, "\(merged.stdout)\(merged.stderr)")
        #expect(merged.stdout.contains("all 3 shards complete"))
        let missing = try await CommandLineTests.faceexport(["merge-manifests"] + manifests.dropLast())
        #expect(missing.status == 2)
        #expect(missing.stdout.contains("missing shards [2]"))
        // Without {shard} in the paths, shards would overwrite each other: refused.
        let refused = try await CommandLineTests.faceexport(["run", folder + "/all.yaml", "--shard", "0/3"])
        #expect(refused.status == 4)
        #expect(refused.stderr.contains("{shard}"))
    }

    @Test func shardMembershipIsStableAndCoversEveryLibraryOnce() throws {
        let shards = (0..<4).map { Shard("\($0)/4")! }
        for index in 0..<500 {
            let id = DatasetGenerator.groupID(index)
            #expect(shards.filter { $0.contains(account: "default", groupID: id) }.count == 1)
        }
        #expect(Shard("4/4") == nil && Shard("x") == nil && Shard("0/0") == nil)
        // A fixed expectation: the hash must never change between versions, or shards would move.
        #expect(
            Shard("1/4")!.contains(account: "default", groupID: "grp-0000")
                == (Shard.fnv1a64("default\u{0}grp-0000") % 4 == 1)
        )
    }

    @Test func schedulesInSamplesAreValid() throws {
        let folder = CommandLineTests.packageRoot + "/samples/schedules"
        let script = """
            import sys, yaml
            for path in sys.argv[1:]:
                for document in yaml.safe_load_all(open(path)):
                    assert isinstance(document, dict) and document.get('kind') in ('CronJob', 'Job', 'ServiceAccount'), path
            print('ok')
            """
        let yamls = [
            folder + "/kubernetes-cronjob.yaml", folder + "/kubernetes-indexed-job.yaml",
            folder + "/kubernetes-cronjob-s3.yaml", folder + "/kubernetes-indexed-job-s3.yaml",
        ]
        #expect(String(decoding: try runProgram("/usr/bin/python3", ["-c", script] + yamls), as: UTF8.self) == "ok\n")
        let indexed = try String(contentsOfFile: folder + "/kubernetes-indexed-job.yaml", encoding: .utf8)
        #expect(indexed.contains("--shard \"${JOB_COMPLETION_INDEX}/4\""))
        // The S3 nights run the shipped pipelines, with a service account, their state in the
        // bucket (no volume), and a retry that resumes the dead pod's run.
        let s3 = try String(contentsOfFile: folder + "/kubernetes-cronjob-s3.yaml", encoding: .utf8)
        let pipeline = try PipelineFileLoader.load(path: CommandLineTests.packageRoot + "/pipelines/nightly-s3.yaml")
        #expect(s3.contains("\"/etc/faceexport/nightly-s3.yaml\", \"--resume-if-interrupted\""))
        #expect(s3.contains("serviceAccountName: faceexport") && !s3.contains("persistentVolumeClaim"))
        #expect(pipeline.stateDirectory == pipeline.outputDirectory + "/state")
        let shardedJob = try String(contentsOfFile: folder + "/kubernetes-indexed-job-s3.yaml", encoding: .utf8)
        let sharded = try PipelineFileLoader.load(path: CommandLineTests.packageRoot + "/pipelines/sharded-s3.yaml")
        #expect(
            shardedJob.contains(
                "/etc/faceexport/sharded-s3.yaml --shard \"${JOB_COMPLETION_INDEX}/4\" --resume-if-interrupted"
            )
        )
        #expect(shardedJob.contains("serviceAccountName: faceexport") && !shardedJob.contains("persistentVolumeClaim"))
        #expect(sharded.stateDirectory == sharded.outputDirectory + "/state" && sharded.metricsPush != nil)
        #expect(
            sharded.outputs.allSatisfy { $0.path.text.contains("{shard}") } && sharded.manifest.text.contains("{shard}")
        )
        let cron = try String(contentsOfFile: folder + "/crontab", encoding: .utf8)
        let entry = try #require(
            cron.split(separator: "\n").first { !$0.hasPrefix("#") && $0.contains("faceexport run") }
        )
        #expect(entry.split(separator: " ", omittingEmptySubsequences: true).count > 6)
    }

    @Test func theContainerRecipeInstallsTheSharedPackageListAndRunsAsTheSchedulesUser() throws {
        let root = CommandLineTests.packageRoot
        let recipe = try String(contentsOfFile: root + "/samples/server/Dockerfile", encoding: .utf8)
        let lines = recipe.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
        let stages = lines.filter { $0.hasPrefix("FROM ") }
        #expect(stages == ["FROM swift:6.3-bookworm AS build", "FROM debian:bookworm-slim"])
        // The image that runs installs exactly the list the clean-host check proves, read from the file.
        let runStage = lines.drop { $0 != "FROM debian:bookworm-slim" }.joined(separator: "\n")
        #expect(runStage.contains("COPY samples/server/runtime-packages.txt /tmp/runtime-packages.txt"))
        #expect(runStage.contains("grep -v '^#' /tmp/runtime-packages.txt | xargs apt-get install"))
        let packages = try String(contentsOfFile: root + "/samples/server/runtime-packages.txt", encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(packages.contains("ca-certificates") && packages.contains("libcurl4"))
        let user = try #require(lines.first { $0.hasPrefix("USER ") })
        #expect(user == "USER 10001:10001", "not root")
        #expect(lines.contains("ENTRYPOINT [\"/usr/local/bin/faceexport\"]"))
        // The schedules run that image, as its user, at this version.
        for name in [
            "kubernetes-cronjob.yaml", "kubernetes-indexed-job.yaml", "kubernetes-cronjob-s3.yaml",
            "kubernetes-indexed-job-s3.yaml",
        ] {
            let job = try String(contentsOfFile: root + "/samples/schedules/" + name, encoding: .utf8)
            #expect(job.contains("image: registry.example.com/faceexport:\(ExporterVersion.number) "), "\(name)")
        }
        let cron = try String(contentsOfFile: root + "/samples/schedules/kubernetes-cronjob.yaml", encoding: .utf8)
        #expect(cron.contains("runAsUser: 10001"))
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze")))
    func systemdUnitsVerify() throws {
        let source = CommandLineTests.packageRoot + "/samples/schedules"
        let folder = try makeTemporaryDirectory()
        for name in ["faceexport-nightly.service", "faceexport-nightly.timer"] {
            // The binary is not installed here: point ExecStart at one that is, keep everything else.
            let text = try String(contentsOfFile: source + "/" + name, encoding: .utf8)
                .replacingOccurrences(of: "/usr/local/bin/faceexport", with: "/bin/true")
            try text.write(toFile: folder + "/" + name, atomically: true, encoding: .utf8)
        }
        let output = try runProgram(
            "/usr/bin/systemd-analyze",
            ["verify", "--man=no", folder + "/faceexport-nightly.service", folder + "/faceexport-nightly.timer"]
        )
        #expect(String(decoding: output, as: UTF8.self).isEmpty)
    }
}
