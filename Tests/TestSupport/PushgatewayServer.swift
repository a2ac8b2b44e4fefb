import Foundation
import Transport

/// Prometheus's Pushgateway (Debian's `prometheus-pushgateway`, installed by `.ci/run`) on a
/// loopback port of its own, kept in memory. It stops when ``stop()`` runs or the test process ends.
public final class PushgatewayServer: @unchecked Sendable {
    /// `http://127.0.0.1:PORT`.
    public let url: String
    private let process: Process
    private let input: Pipe

    static let script = #"""
        import re, subprocess, sys, threading
        gateway = subprocess.Popen(["/usr/bin/prometheus-pushgateway", "--web.listen-address=127.0.0.1:0"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            for line in gateway.stderr:
                found = re.search(r'msg="Listening on" address=127\.0\.0\.1:([0-9]+)', line)
                if found:
                    print("http://127.0.0.1:" + found.group(1), flush=True)
                    break
            threading.Thread(target=lambda: [None for _ in gateway.stderr], daemon=True).start()
            sys.stdin.read()
        finally:
            gateway.kill()
        """#

    /// Starts a Pushgateway.
    public init() throws {
        let started = try PythonReaders.startServer(Self.script, [], name: "the Pushgateway")
        (self.process, self.input) = (started.process, started.input)
        self.url = String(decoding: started.line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard self.url.hasPrefix("http://127.0.0.1:") else { throw TestFailure("the Pushgateway said \(self.url)") }
    }

    /// Stops the Pushgateway.
    public func stop() {
        try? self.input.fileHandleForWriting.close()
        self.process.waitUntilExit()
    }

    deinit { try? self.input.fileHandleForWriting.close() }

    /// The samples it serves on `/metrics` whose name starts with `prefix`, one line each.
    public func samples(prefix: String = "faceexport_") throws -> [String] {
        var configuration = CurlTransport.Configuration()
        configuration.network.proxy = .none
        let transport = try CurlTransport(configuration: configuration)
        let answer = transport.sendAndWait(TransportRequest(method: "GET", url: URL(string: self.url + "/metrics")!))
        guard case .success(let response) = answer, response.status == 200 else {
            throw TestFailure("the Pushgateway's /metrics answered \(answer)")
        }
        return String(decoding: response.body, as: UTF8.self).split(separator: "\n").map(String.init)
            .filter { $0.hasPrefix(prefix) }
    }

    /// Deletes the metrics pushed under the grouping key `job`/`pipeline`.
    public func clearGroup(job: String, pipeline: String) throws {
        var configuration = CurlTransport.Configuration()
        configuration.network.proxy = .none
        let transport = try CurlTransport(configuration: configuration)
        let url = URL(string: "\(self.url)/metrics/job/\(job)/pipeline/\(pipeline)")!
        let answer = transport.sendAndWait(TransportRequest(method: "DELETE", url: url))
        guard case .success(let response) = answer, (200..<300).contains(response.status) else {
            throw TestFailure("the Pushgateway's DELETE answered \(answer)")
        }
    }

    /// The value of the one sample named `name` whose labels include every one of `labels`
    /// (`key="value"`), nil when there is none.
    public func value(_ name: String, _ labels: [String]) throws -> Double? {
        let matching = try self.samples(prefix: name + "{").filter { line in
            labels.allSatisfy { line.contains($0) }
        }
        guard matching.count <= 1 else { throw TestFailure("several samples of \(name) \(labels): \(matching)") }
        return matching.first?.split(separator: " ").last.flatMap { Double($0) }
    }
}
