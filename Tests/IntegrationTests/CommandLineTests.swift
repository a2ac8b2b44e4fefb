import FaceSearchSimulation
import Foundation
import PipelineFile
import TestSupport
import Testing

/// The built `faceexport` binary, run as a user runs it.
@Suite(.timeLimit(.minutes(10)))
struct CommandLineTests {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// The binary next to the test bundle, where `swift build` / `swift test` put it.
    static var binary: String {
        var folder = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if folder.lastPathComponent == "MacOS" {
            folder = folder.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        }
        return folder.appendingPathComponent("faceexport").path
    }

    struct Outcome {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func faceexport(_ arguments: [String], environment: [String: String] = [:]) async throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: Self.packageRoot)
        var env = ProcessInfo.processInfo.environment
        env["FACESEARCH_API_KEY"] = nil
        env["FACESEARCH_API_SECRET"] = nil
        env.merge(environment) { $1 }
        process.environment = env
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        return await runOffThePool {
            let output = stdout.fileHandleForReading.readDataToEndOfFile()
            let errors = stderr.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return Outcome(
                status: process.terminationStatus,
                stdout: String(decoding: output, as: UTF8.self),
                stderr: String(decoding: errors, as: UTF8.self)
            )
        }
    }

    /// Starts `faceexport simulate --port 0 …` and returns it with its banner (address, key, secret).
    static func startSimulator(_ arguments: [String]) async throws -> (Process, String) {
        let simulator = Process()
        simulator.executableURL = URL(fileURLWithPath: Self.binary)
        simulator.arguments = ["simulate", "--port", "0"] + arguments
        let output = Pipe()
        simulator.standardOutput = output
        try simulator.run()
        let banner = await runOffThePool { () -> String in
            var text = ""
            // The banner is the address line, the key and (unless given as a file) the secret.
            let lines = arguments.contains("--api-secret-file") ? 3 : 4
            while text.components(separatedBy: "\n").count < lines {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
            }
            return text
        }
        return (simulator, banner)
    }

    @Test func theDemoPipelineExportsEveryFaceOfTheEmbeddedSimulator() async throws {
        let out = try makeTemporaryDirectory()
        let result = try await Self.faceexport(["run", "pipelines/demo.yaml", "--out", out])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("COMPLETE"))
        let definition = try PipelineFileLoader.load(path: Self.packageRoot + "/pipelines/demo.yaml")
        guard case .embedded(let settings) = definition.endpoint else {
            Issue.record("the demo must use the embedded simulator")
            return
        }
        let dataset = DatasetGenerator(
            groups: settings.groups,
            faces: settings.faces,
            sizing: .mixed,
            seed: settings.seed
        ).make()
        let rows = try readNDJSON(out + "/faces.ndjson.gz")
        #expect(rows.count == dataset.faceCount)
        #expect(Set(rows) == Set(expectedRows(dataset.groups)))
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: out).filter { !$0.hasPrefix(".") }.sorted() == [
                "_SUCCESS", "faces.ndjson.gz", "manifest.json",
            ]
        )
        let manifest =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/manifest.json")))
            as? [String: Any]
        #expect(manifest?["outcome"] as? String == "complete")
        #expect(manifest?["pipeline"] as? String == "demo")
        #expect((manifest?["groups"] as? [[String: Any]])?.count == settings.groups)
    }

    @Test func validateNamesTheLineAndKeyAndExitsWithTheConfigurationCode() async throws {
        let folder = try makeTemporaryDirectory()
        let path = folder + "/broken.yaml"
        try "name: x\nendpoint: embedded\noutputs:\n  - format: ndjson\n    path: f.ndjson\nconcurency: 3\n".write(
            toFile: path,
            atomically: true,
            encoding: .utf8
        )
        let broken = try await Self.faceexport(["validate", path])
        #expect(broken.status == 4)
        #expect(broken.stderr.contains("broken.yaml:6: concurency: unknown key"))
        let good = try await Self.faceexport(["validate", "pipelines/demo.yaml"])
        #expect(good.status == 0, "\(good.stderr)")
        #expect(good.stdout.contains("ok"))
    }

    @Test func refusesPlainHTTPToANonLoopbackHostAndMissingCredentials() async throws {
        let insecure = try await Self.faceexport([
            "run", "pipelines/demo.yaml", "--endpoint", "http://api-sgp.yljz.com",
        ])
        #expect(insecure.status == 4)
        #expect(insecure.stderr.contains("plain http is refused"))
        let noCredentials = try await Self.faceexport([
            "run", "pipelines/demo.yaml", "--endpoint", "https://api-sgp.yljz.com",
        ])
        #expect(noCredentials.status == 4)
        #expect(noCredentials.stderr.contains("FACESEARCH_API_KEY"))
    }

    @Test func aSimulatorProcessServesRunsWithItsCredentials() async throws {
        let (simulator, banner) = try await Self.startSimulator(["--groups", "8", "--faces", "300", "--seed", "4"])
        defer {
            simulator.terminate()
            simulator.waitUntilExit()
        }
        let lines = banner.split(separator: "\n").map(String.init)
        let url = try #require(lines.first?.split(separator: " ").first { $0.hasPrefix("http://") }.map(String.init))
        let key = try #require(lines.first { $0.hasPrefix("FACESEARCH_API_KEY=") }?.dropFirst(19))
        let secret = try #require(lines.first { $0.hasPrefix("FACESEARCH_API_SECRET=") }?.dropFirst(22))

        let out = try makeTemporaryDirectory()
        let groupsFile = out + "/groups.txt"
        try "# two libraries and a typo\ngrp-0000\ngrp-0002\ngrp-9999\n".write(
            toFile: groupsFile,
            atomically: true,
            encoding: .utf8
        )
        let partial = try await Self.faceexport(
            ["run", "pipelines/demo.yaml", "--endpoint", url, "--groups-file", groupsFile, "--out", out],
            environment: ["FACESEARCH_API_KEY": String(key), "FACESEARCH_API_SECRET": String(secret)]
        )
        #expect(partial.status == 2, "\(partial.stderr)")
        #expect(partial.stderr.contains("grp-9999"))
        #expect(partial.stderr.contains("INVALID_GROUP_ID"))
        let dataset = DatasetGenerator(groups: 8, faces: 300, sizing: .mixed, seed: 4).make()
        let rows = try readNDJSON(out + "/faces.ndjson.gz")
        #expect(Set(rows) == Set(expectedRows([dataset.groups[0], dataset.groups[2]])))
        let committed = try Data(contentsOf: URL(fileURLWithPath: out + "/faces.ndjson.gz"))

        let refused = try await Self.faceexport(
            ["run", "pipelines/demo.yaml", "--endpoint", url, "--out", out],
            environment: ["FACESEARCH_API_KEY": String(key), "FACESEARCH_API_SECRET": "wrong"]
        )
        #expect(refused.status == 3)
        #expect(refused.stderr.contains("INVALID_SIGN"))
        #expect(!refused.stderr.contains("wrong\n") && !refused.stderr.contains(String(secret)))
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/faces.ndjson.gz")) == committed)
    }
}

/// A run killed outright must leave the previous outputs exactly as they were.
@Suite(.timeLimit(.minutes(10)))
struct KillTests {
    /// Slow runs (with latency) have many libraries, so that on a loaded machine the test's kill
    /// still lands long before they could finish.
    static func pipeline(folder: String, latency: Double) -> String {
        embeddedPipeline(
            name: "killed",
            folder: folder,
            groups: latency > 0 ? 60 : 16,
            faces: 1500,
            seed: 5,
            latency: latency,
            outputs: [
                "{format: ndjson, path: faces.ndjson.gz}", #"{format: csv, path: "dt={date}/faces.csv.gz"}"#,
                "{format: sqlite, path: faces.sqlite, mode: merge}",
            ]
        )
    }

    /// Every file under `folder`, with its contents, skipping hidden ones (temporary files, the run lock).
    static func snapshot(_ folder: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(atPath: folder)
        while let path = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder + "/" + path, isDirectory: &isDirectory),
                !isDirectory.boolValue, !path.split(separator: "/").contains(where: { $0.hasPrefix(".") })
            else { continue }
            files[path] = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + path))
        }
        return files
    }

    @Test func sigkillMidRunLeavesThePreviousOutputsIntact() async throws {
        let folder = try makeTemporaryDirectory()
        try Self.pipeline(folder: folder, latency: 0).write(
            toFile: folder + "/fast.yaml",
            atomically: true,
            encoding: .utf8
        )
        try Self.pipeline(folder: folder, latency: 0.05).write(
            toFile: folder + "/slow.yaml",
            atomically: true,
            encoding: .utf8
        )
        let first = try await CommandLineTests.faceexport(["run", folder + "/fast.yaml"])
        #expect(first.status == 0, "\(first.stderr)")
        let before = try Self.snapshot(folder + "/out")
        // The three outputs, the manifest, and _SUCCESS beside the manifest and in the dt= partition.
        #expect(before.count == 6, "\(before.keys.sorted())")

        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLineTests.binary)
        process.arguments = ["run", folder + "/slow.yaml", "--log-level", "debug"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Wait, without sleeping, until some libraries are written: the walker logs each one it finishes.
        let walked = await runOffThePool { () -> Int in
            var text = ""
            while text.components(separatedBy: "library walked").count <= 3 {
                let chunk = errors.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
            }
            return text.components(separatedBy: "library walked").count - 1
        }
        #expect(walked >= 3)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(
            try Self.snapshot(folder + "/out") == before,
            "the final names hold the previous run's files, byte for byte"
        )
    }
}
