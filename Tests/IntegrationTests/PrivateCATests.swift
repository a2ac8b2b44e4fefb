import FaceSearchSimulation
import Foundation
import TestSupport
import Testing

/// The simulator behind TLS (Debian's stunnel, with certificates the test makes): a private CA is
/// trusted only when the pipeline names it, and then every call verifies.
@Suite(.timeLimit(.minutes(10)))
struct PrivateCATests {
    /// Makes a CA and a certificate for 127.0.0.1 signed by it; returns the CA's PEM path.
    static func makeCertificates(in folder: String) throws -> String {
        func openssl(_ arguments: [String]) throws { _ = try runProgram("/usr/bin/openssl", arguments) }
        try openssl([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", folder + "/ca.key", "-out", folder + "/ca.pem",
            "-days", "2", "-subj", "/CN=faceexport test CA",
        ])
        try openssl([
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", folder + "/server.key", "-out", folder + "/server.csr",
            "-subj", "/CN=127.0.0.1",
        ])
        try "subjectAltName=IP:127.0.0.1\n".write(toFile: folder + "/ext.cnf", atomically: true, encoding: .utf8)
        try openssl([
            "x509", "-req", "-in", folder + "/server.csr", "-CA", folder + "/ca.pem", "-CAkey", folder + "/ca.key",
            "-CAcreateserial", "-out", folder + "/server.pem", "-days", "2", "-extfile", folder + "/ext.cnf",
        ])
        return folder + "/ca.pem"
    }

    /// Starts stunnel on a free port in front of `target`; returns it and its port once it listens.
    static func startTLS(in folder: String, target: String) async throws -> (Process, Int) {
        let port = try freeLoopbackPort()
        let targetPort = try #require(URL(string: target)?.port)
        try """
        foreground = yes
        pid =
        [https]
        accept = 127.0.0.1:\(port)
        connect = 127.0.0.1:\(targetPort)
        cert = \(folder)/server.pem
        key = \(folder)/server.key

        """.write(toFile: folder + "/stunnel.conf", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/stunnel4")
        process.arguments = [folder + "/stunnel.conf"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let ready = await runOffThePool { () -> Bool in
            var text = ""
            while !text.contains("Configuration successful") {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { return false }
                text += String(decoding: chunk, as: UTF8.self)
            }
            return true
        }
        guard ready else { throw TestFailure("stunnel did not start") }
        return (process, port)
    }

    @Test func aPrivateCAIsTrustedOnlyWhenThePipelineNamesIt() async throws {
        let folder = try makeTemporaryDirectory()
        let ca = try Self.makeCertificates(in: folder)
        let (simulator, banner) = try await CommandLineTests.startSimulator(["--groups", "3", "--faces", "200"])
        defer {
            simulator.terminate()
            simulator.waitUntilExit()
        }
        let (url, environment) = try NightTests.access(banner)
        let (tls, port) = try await Self.startTLS(in: folder, target: url)
        defer {
            // SIGKILL: a SIGTERM ignored by the test process is ignored by its children too.
            kill(tls.processIdentifier, SIGKILL)
            tls.waitUntilExit()
        }
        func run(_ tlsSection: String) async throws -> CommandLineTests.Outcome {
            let path = folder + "/https.yaml"
            try """
            name: https
            endpoint: https://127.0.0.1:\(port)
            http_client: curl
            \(tlsSection)
            concurrency: 2
            page_size: 100
            rate_limit: {mode: fixed, requests_per_second: 1000, burst: 10}
            output_dir: \(folder)/out
            outputs:
              - {format: ndjson, path: faces.ndjson.gz}
            """.write(toFile: path, atomically: true, encoding: .utf8)
            return try await CommandLineTests.faceexport(["run", path], environment: environment)
        }
        try
            "name: https\nendpoint: https://127.0.0.1:\(port)\ntls: {ca_file: \(folder)/ca.key}\noutputs: [{format: ndjson, path: f}]\n"
            .write(toFile: folder + "/https.yaml", atomically: true, encoding: .utf8)
        let validated = try await CommandLineTests.faceexport(["validate", folder + "/https.yaml"])
        #expect(validated.status == 4 && validated.stderr.contains("tls.ca_file"), "\(validated.stderr)")
        let untrusted = try await run("")
        #expect(untrusted.status == 3, "\(untrusted.stderr)")
        #expect(untrusted.stderr.contains("TLS failed: 127.0.0.1: SSL certificate problem"), "\(untrusted.stderr)")
        #expect(!FileManager.default.fileExists(atPath: folder + "/out/faces.ndjson.gz"))

        let trusted = try await run("tls: {ca_file: \(ca)}")
        #expect(trusted.status == 0, "\(trusted.stderr)")
        let rows = try readNDJSON(folder + "/out/faces.ndjson.gz")
        let dataset = DatasetGenerator(groups: 3, faces: 200, sizing: .mixed, seed: 1).make()
        #expect(Set(rows) == Set(expectedRows(dataset.groups)), "every face, through TLS")

        let only = try await run("tls: {ca_file: \(ca), ca_only: true}")
        #expect(only.status == 0, "\(only.stderr)")

        // Through a proxy that tunnels to the TLS port: the API's certificate is still checked
        // against the pipeline's CA, end to end inside the tunnel.
        let proxy = try await ProxyTests.Proxy(folder: folder, extra: ["ConnectPort \(port)"])
        let tunnelled = try await run("tls: {ca_file: \(ca)}\nproxy: http://127.0.0.1:\(proxy.port)")
        let log = proxy.stop()
        #expect(tunnelled.status == 0, "\(tunnelled.stderr)")
        #expect(log.contains("CONNECT 127.0.0.1:\(port)"), "\(log)")
    }
}
