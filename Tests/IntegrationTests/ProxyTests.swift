import FaceSearch
import Foundation
import PipelineFile
import Synchronization
import TestSupport
import Testing
import Transport

/// Calls through a real proxy (Debian's tinyproxy, started on loopback by the test), with
/// `http_client: curl`: the proxy's own log proves where the calls went.
@Suite(.timeLimit(.minutes(10)))
struct ProxyTests {
    /// A running tinyproxy and what it has logged.
    final class Proxy {
        let process = Process()
        let port: Int
        private let output = Pipe()
        private var text = ""

        /// Starts tinyproxy on a free loopback port; `extra` lines go into its configuration.
        init(folder: String, extra: [String] = []) async throws {
            self.port = try freeLoopbackPort()
            let configuration =
                ([
                    "Port \(self.port)", "Listen 127.0.0.1", "Timeout 30", "LogLevel Info", "MaxClients 64",
                    "Allow 127.0.0.1", "ConnectPort 443",
                ] + extra).joined(separator: "\n") + "\n"
            try configuration.write(toFile: folder + "/tinyproxy.conf", atomically: true, encoding: .utf8)
            // It logs to standard output, block-buffered into a pipe: stdbuf makes it line by line.
            self.process.executableURL = URL(fileURLWithPath: "/usr/bin/stdbuf")
            self.process.arguments = ["-oL", "-eL", "/usr/bin/tinyproxy", "-d", "-c", folder + "/tinyproxy.conf"]
            self.process.standardOutput = self.output
            self.process.standardError = self.output
            try self.process.run()
            let started = await self.read(until: "Accepting connections")
            guard started else { throw TestFailure("tinyproxy did not start: \(self.text)") }
        }

        /// Reads its output until a line contains `marker`; false if it ended first.
        func read(until marker: String) async -> Bool {
            let handle = self.output.fileHandleForReading
            let (found, text) = await runOffThePool { [text = self.text] () -> (Bool, String) in
                var text = text
                while !text.contains(marker) {
                    let chunk = handle.availableData
                    if chunk.isEmpty { return (false, text) }
                    text += String(decoding: chunk, as: UTF8.self)
                }
                return (true, text)
            }
            self.text = text
            return found
        }

        /// Stops it and returns everything it logged.
        func stop() -> String {
            // SIGKILL: a SIGTERM ignored by the test process is ignored by its children too.
            kill(self.process.processIdentifier, SIGKILL)
            self.process.waitUntilExit()
            self.text += String(decoding: self.output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            return self.text
        }
    }

    static func pipeline(folder: String, endpoint: String, proxy: String?) throws -> String {
        let path = folder + "/proxied.yaml"
        try """
        name: proxied
        endpoint: \(endpoint)
        http_client: curl
        \(proxy.map { "proxy: \($0)" } ?? "")
        concurrency: 2
        page_size: 100
        outage_tolerance: 2
        retry: {max_attempts: 2, base_delay: 0.01}
        rate_limit: {mode: fixed, requests_per_second: 1000, burst: 10}
        output_dir: \(folder)/out
        outputs:
          - {format: ndjson, path: faces.ndjson.gz}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func everyCallGoesThroughTheProxyThePipelineNamesWithItsCredentials() async throws {
        let folder = try makeTemporaryDirectory()
        let (simulator, banner) = try await CommandLineTests.startSimulator(["--groups", "4", "--faces", "300"])
        defer {
            simulator.terminate()
            simulator.waitUntilExit()
        }
        var (url, environment) = try NightTests.access(banner)
        let proxy = try await Proxy(folder: folder, extra: ["BasicAuth nightly s3cret-proxy-pw"])
        try "s3cret-proxy-pw\n".write(toFile: folder + "/proxy-password", atomically: true, encoding: .utf8)
        environment["PROXY_USER"] = "nightly"
        let proxySetting =
            "{url: http://127.0.0.1:\(proxy.port), username_env: PROXY_USER, password_file: \(folder)/proxy-password}"
        let result = try await CommandLineTests.faceexport(
            ["run", try Self.pipeline(folder: folder, endpoint: url, proxy: proxySetting)],
            environment: environment
        )
        let log = proxy.stop()
        #expect(result.status == 0, "\(result.stderr)")
        let carried = log.split(separator: "\n").filter { $0.contains("POST \(url)/finauth/search/group/") }
        #expect(carried.count >= 9, "group_list, then get_size and list for each library: \(log)")
        #expect(!result.stderr.contains("s3cret-proxy-pw"), "the proxy's password is never said")
    }

    @Test func theProxyVariableIsHonouredAndProxyNoneIgnoresIt() async throws {
        let folder = try makeTemporaryDirectory()
        let (simulator, banner) = try await CommandLineTests.startSimulator(["--groups", "3", "--faces", "200"])
        defer {
            simulator.terminate()
            simulator.waitUntilExit()
        }
        var (url, environment) = try NightTests.access(banner)
        let proxy = try await Proxy(folder: folder)
        environment["http_proxy"] = "http://127.0.0.1:\(proxy.port)"
        let viaVariable = try await CommandLineTests.faceexport(
            ["run", try Self.pipeline(folder: folder, endpoint: url, proxy: nil)],
            environment: environment
        )
        #expect(viaVariable.status == 0, "\(viaVariable.stderr)")
        // A proxy variable naming nothing that listens: `proxy: none` does not go there.
        environment["http_proxy"] = "http://127.0.0.1:\(try freeLoopbackPort())"
        let direct = try await CommandLineTests.faceexport(
            ["run", try Self.pipeline(folder: folder, endpoint: url, proxy: "none")],
            environment: environment
        )
        #expect(direct.status == 0, "\(direct.stderr)")
        let log = proxy.stop()
        #expect(log.contains("POST \(url)/finauth/search/group/list"), "\(log)")
    }

    @Test func aProxyThatRefusesToTunnelStopsTheRunWithOnePlainLine() async throws {
        let folder = try makeTemporaryDirectory()
        let proxy = try await Proxy(folder: folder)
        // tinyproxy tunnels to port 443 only: CONNECT to any other port gets 403.
        let result = try await CommandLineTests.faceexport(
            [
                "run",
                try Self.pipeline(
                    folder: folder,
                    endpoint: "https://127.0.0.1:\(try freeLoopbackPort())",
                    proxy: "http://127.0.0.1:\(proxy.port)"
                ),
            ],
            environment: ["FACESEARCH_API_KEY": "key", "FACESEARCH_API_SECRET": "secret"]
        )
        let log = proxy.stop()
        #expect(result.status == 3, "\(result.stderr)")
        let lines = result.stderr.split(separator: "\n").filter { $0.contains("the proxy refused the call") }
        #expect(lines.count == 1, "said once: \(result.stderr)")
        #expect(lines.first?.contains("403") == true, "\(lines)")
        #expect(log.contains("Refused CONNECT"), "\(log)")
    }

    @Test func aProxyWithCredentialsInItsURLIsRefusedWithTheLineAndKey() throws {
        let folder = try makeTemporaryDirectory()
        let path = try Self.pipeline(
            folder: folder,
            endpoint: "https://api-sgp.yljz.com",
            proxy: "http://user:pw@proxy.example.com:3128"
        )
        let error = #expect(throws: (any Error).self) { try PipelineFileLoader.load(path: path) }
        let message = "\(error.map { "\($0)" } ?? "")"
        #expect(message.contains("proxied.yaml:4: proxy:"), "\(message)")
        #expect(message.contains("username_env"), "\(message)")
        #expect(!message.contains("pw@"), "\(message)")
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on at the moment.
func freeLoopbackPort() throws -> Int {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard descriptor >= 0 else { throw TestFailure("socket failed") }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
        }
    }
    guard bound else { throw TestFailure("bind failed") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// How libcurl's failures reach the walker: a proxy or a host that went away is a connection
/// failure (retried, ridden out as an outage), not a refusal that stops the run.
struct CurlFailureTests {
    static func send(to url: String, network: NetworkOptions = NetworkOptions()) throws -> TransportFailure? {
        var configuration = CurlTransport.Configuration()
        configuration.network = network
        configuration.requestTimeout = 5
        let transport = try CurlTransport(configuration: configuration)
        let outcome = Mutex<Result<TransportResponse, TransportFailure>?>(nil)
        let request = TransportRequest(url: URL(string: url)!, contentType: "text/plain", body: Data("x".utf8))
        transport.send(request) { result in outcome.withLock { $0 = result } }
        guard case .failure(let failure) = outcome.withLock({ $0 }) else { return nil }
        return failure
    }

    @Test func aProxyThatIsGoneIsAConnectionFailureAndRetried() throws {
        var network = NetworkOptions()
        network.proxy = .server("http://127.0.0.1:\(try freeLoopbackPort())", username: nil, password: nil)
        let failure = try Self.send(to: "https://api-sgp.yljz.com/finauth/search/group/list", network: network)
        guard case .connection(let reason) = failure else {
            Issue.record("expected a connection failure, got \(String(describing: failure))")
            return
        }
        #expect(reason.contains("refused the connection"), "\(reason)")
        #expect(FaceSearchError.transport(reason, call: "list").isUnreachable, "retried and ridden out")
    }

    @Test func aHostThatCannotBeResolvedSaysSo() throws {
        var network = NetworkOptions()
        network.proxy = .none
        let failure = try Self.send(to: "http://faceexport-test.invalid/finauth/search/group/list", network: network)
        guard case .connection(let reason) = failure else {
            Issue.record("expected a connection failure, got \(String(describing: failure))")
            return
        }
        #expect(reason == "the host name faceexport-test.invalid could not be resolved (DNS)", "\(reason)")
    }

    @Test func aCAFileThatIsNotPEMIsRefusedBeforeAnyCall() throws {
        let folder = try makeTemporaryDirectory()
        try Data("not a certificate".utf8).write(to: URL(fileURLWithPath: folder + "/ca.pem"))
        var configuration = CurlTransport.Configuration()
        configuration.network.caFile = folder + "/ca.pem"
        #expect(throws: TransportSetUpError.self) { try CurlTransport(configuration: configuration) }
    }
}
