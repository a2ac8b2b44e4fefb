import Foundation
import TestSupport
import Testing

/// What goes wrong at night, tried as a scheduler runs faceexport: the exit code, the one-line message,
/// and yesterday's outputs.
@Suite(.timeLimit(.minutes(10)))
struct NightTests {
    /// The key, secret and address of a `faceexport simulate` banner.
    static func access(_ banner: String) throws -> (url: String, environment: [String: String]) {
        let lines = banner.split(separator: "\n").map(String.init)
        let url = try #require(lines.first?.split(separator: " ").first { $0.hasPrefix("http://") }.map(String.init))
        let key = try #require(lines.first { $0.hasPrefix("FACESEARCH_API_KEY=") }?.dropFirst(19))
        let secret = try #require(lines.first { $0.hasPrefix("FACESEARCH_API_SECRET=") }?.dropFirst(22))
        return (url, ["FACESEARCH_API_KEY": String(key), "FACESEARCH_API_SECRET": String(secret)])
    }

    @Test func theDemoPipelineAgainstAnAccountThatAdmitsTwentyCallsASecondCompletes() async throws {
        let (simulator, banner) = try await CommandLineTests.startSimulator([
            "--groups", "10", "--faces", "400", "--seed", "9", "--rate-limit", "20",
        ])
        defer {
            simulator.terminate()
            simulator.waitUntilExit()
        }
        let (url, environment) = try Self.access(banner)
        let out = try makeTemporaryDirectory()
        // demo.yaml starts adaptive at 1,000 calls/s: 50 times the account's limit.
        let result = try await CommandLineTests.faceexport(
            ["run", "pipelines/demo.yaml", "--endpoint", url, "--out", out],
            environment: environment
        )
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("10 complete"), "\(result.stderr)")
        #expect(FileManager.default.fileExists(atPath: out + "/_SUCCESS"))
    }

    @Test func anAPIDownFromTheStartFailsAndLeavesLastNightsOutputs() async throws {
        let out = try makeTemporaryDirectory()
        let night = try await CommandLineTests.faceexport(["run", "pipelines/demo.yaml", "--out", out])
        #expect(night.status == 0, "\(night.stderr)")
        let committed = try Data(contentsOf: URL(fileURLWithPath: out + "/faces.ndjson.gz"))
        let manifest = try Data(contentsOf: URL(fileURLWithPath: out + "/manifest.json"))

        // Nothing listens on the port of a simulator that has gone.
        let (simulator, banner) = try await CommandLineTests.startSimulator(["--groups", "1", "--faces", "1"])
        simulator.terminate()
        simulator.waitUntilExit()
        let (url, environment) = try Self.access(banner)
        let pipeline = out + "/down.yaml"
        try String(contentsOfFile: CommandLineTests.packageRoot + "/pipelines/demo.yaml", encoding: .utf8)
            .replacingOccurrences(of: "output_dir: out", with: "output_dir: out\noutage_tolerance: 2")
            .replacingOccurrences(
                of: "concurrency: 4",
                with: "concurrency: 4\nretry: {max_attempts: 2, base_delay: 0.01}"
            )
            .write(toFile: pipeline, atomically: true, encoding: .utf8)
        let down = try await CommandLineTests.faceexport(
            ["run", pipeline, "--endpoint", url, "--out", out],
            environment: environment
        )
        #expect(down.status == 3, "\(down.stderr)")
        #expect(down.stderr.contains("could not be reached"), "\(down.stderr)")
        #expect(down.stderr.contains("refused the connection"), "\(down.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/faces.ndjson.gz")) == committed)
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/manifest.json")) == manifest)
    }

    @Test func anUntrustedCertificateStopsTheRunAtOnceWithOnePlainLine() async throws {
        let folder = try makeTemporaryDirectory()
        let pipeline = CommandLineTests.packageRoot + "/pipelines/demo.yaml"
        _ = try runProgram(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", folder + "/key.pem", "-out",
                folder + "/cert.pem", "-days", "1", "-subj", "/CN=127.0.0.1",
            ]
        )
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        server.arguments = [
            "s_server", "-accept", "127.0.0.1:0", "-cert", folder + "/cert.pem", "-key", folder + "/key.pem", "-www",
        ]
        let output = Pipe()
        server.standardOutput = output
        server.standardError = output
        try server.run()
        defer {
            // SIGKILL: a SIGTERM ignored by the test process is ignored by its children too.
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
        let port = await runOffThePool { () -> String? in
            var text = ""
            while !text.contains("ACCEPT") || !text.hasSuffix("\n") {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { return nil }
                text += String(decoding: chunk, as: UTF8.self)
            }
            return text.split(separator: "\n").first { $0.hasPrefix("ACCEPT") }?.split(separator: ":").last
                .map(String.init)
        }
        let url = "https://127.0.0.1:" + (try #require(port))
        let out = try makeTemporaryDirectory()
        let result = try await CommandLineTests.faceexport(
            ["run", pipeline, "--endpoint", url, "--out", out],
            environment: ["FACESEARCH_API_KEY": "key", "FACESEARCH_API_SECRET": "secret"]
        )
        #expect(result.status == 3, "\(result.stderr)")
        let lines = result.stderr.split(separator: "\n").filter { $0.contains("TLS failed") }
        #expect(lines.count == 1, "said once: \(result.stderr)")
        // libcurl's error buffer, in OpenSSL's words, with the host.
        let reason = "127.0.0.1: SSL certificate problem: self-signed certificate"
        #expect(lines.first?.contains(reason) == true, "\(lines)")
        #expect(lines.first?.contains("update-ca-certificates") == true)
        for noise in ["NIOSSL", "BoringSSL", ".build/", "checkouts", "handshakeFailed"] {
            #expect(!result.stderr.contains(noise), "no dependency's insides: \(result.stderr)")
        }
    }

    @Test func anOutputFolderThatCannotBeWrittenIsAConfigurationErrorNotALock() async throws {
        let folder = try makeTemporaryDirectory()
        try Data("a file, not a folder".utf8).write(to: URL(fileURLWithPath: folder + "/file"))
        let result = try await CommandLineTests.faceexport([
            "run", "pipelines/demo.yaml", "--out", folder + "/file/out",
        ])
        #expect(result.status == 4, "\(result.stderr)")
        let message = result.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!message.contains("\n"), "one line: \(message)")
        #expect(message.contains(folder + "/file/out"), "\(message)")
        #expect(message.contains("Not a directory"), "\(message)")
        #expect(!message.contains("another run"))
    }

    @Test func runHelpShowsNoStrayBackslash() async throws {
        let help = try await CommandLineTests.faceexport(["run", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("Exit codes"))
        #expect(!help.stdout.contains("\\"), "\(help.stdout)")
    }
}

/// A disk that fills during the run, on a small tmpfs the test mounts (as root, as CI runs).
@Suite(.timeLimit(.minutes(10)))
struct FullDiskTests {
    @Test func aFullDiskFailsTheRunSaysSoAndKeepsLastNightsOutput() async throws {
        let folder = try makeTemporaryDirectory()
        let disk = folder + "/disk"
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        _ = try runProgram("/bin/mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", disk])
        defer { _ = try? runProgram("/bin/umount", [disk]) }
        func pipeline(groups: Int) throws -> String {
            let path = folder + "/p\(groups).yaml"
            try embeddedPipeline(
                name: "full",
                folder: disk,
                groups: groups,
                faces: 300,
                seed: 5,
                outputs: ["{format: ndjson, path: faces.ndjson}"]
            ).write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let small = try await CommandLineTests.faceexport(["run", try pipeline(groups: 2)])
        #expect(small.status == 0, "\(small.stderr)")
        let lastNight = try Data(contentsOf: URL(fileURLWithPath: disk + "/out/faces.ndjson"))
        // Ten thousand faces of about 250 bytes do not fit in what is left of 256 KiB.
        let big = try await CommandLineTests.faceexport(["run", try pipeline(groups: 40)])
        #expect(big.status == 3, "\(big.stderr)")
        #expect(big.stderr.contains("No space left on device"), "\(big.stderr)")
        #expect(big.stderr.contains("free space there and run again"), "\(big.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: disk + "/out/faces.ndjson")) == lastNight)
    }
}
