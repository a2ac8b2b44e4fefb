import ExportPipeline
import FaceExport
import FaceSearchSimulation
import Foundation
import Logging
import Synchronization
import TestSupport
import Testing
import Transport

/// `metrics: {pushgateway: URL}`: a batch job's metrics, pushed to Prometheus's own Pushgateway and
/// read back from its `/metrics`.
@Suite(.serialized) struct PushgatewayTests {
    @Test func aRunPushesItsMetricsAndAFailedRunKeepsTheLastSuccess() async throws {
        let gateway = try await offThePool { try PushgatewayServer() }
        defer { gateway.stop() }
        let folder = try makeTemporaryDirectory()
        let push = "metrics: {pushgateway: \"\(gateway.url)\"}"
        try OperationsTests.pipeline(folder: folder, extra: push).write(
            toFile: folder + "/p.yaml",
            atomically: true,
            encoding: .utf8
        )
        #expect(try await CommandLineTests.faceexport(["run", folder + "/p.yaml"]).status == 0)
        let group = [#"job="faceexport""#, #"pipeline="ops""#]
        let dataset = DatasetGenerator(groups: 12, faces: 600, sizing: .mixed, seed: 8).make()
        #expect(try gateway.value("faceexport_faces_exported", group) == Double(dataset.faceCount))
        #expect(try gateway.value("faceexport_groups", group + [#"status="complete""#]) == 12)
        #expect(try gateway.value("faceexport_run_in_progress", group) == 0)
        #expect(try gateway.value("faceexport_last_run_outcome", group + [#"outcome="complete""#]) == 1)
        let success = try #require(try gateway.value("faceexport_last_success_timestamp_seconds", group))
        #expect(abs(success - Date().timeIntervalSince1970) < 3600)
        // Every family the textfile has, the push has.
        let pushed = Set(try gateway.samples().map { $0.prefix { $0 != "{" } })
        for family in ["build_info", "requests", "retries", "pages_exported", "run_duration_seconds"] {
            #expect(pushed.contains("faceexport_" + family[...]), "\(family)")
        }

        // A run the API refuses (the deadline passes at once): its outcome replaces the last one,
        // the last success stays.
        try OperationsTests.pipeline(folder: folder, extra: push + "\ndeadline: 0.000001").write(
            toFile: folder + "/late.yaml",
            atomically: true,
            encoding: .utf8
        )
        #expect(try await CommandLineTests.faceexport(["run", folder + "/late.yaml"]).status == 3)
        #expect(try gateway.value("faceexport_last_run_outcome", group + [#"outcome="failed""#]) == 1)
        #expect(try gateway.value("faceexport_last_run_outcome", group + [#"outcome="complete""#]) == 0)
        #expect(try gateway.value("faceexport_last_success_timestamp_seconds", group) == success)
        #expect(try gateway.value("faceexport_faces_exported", group) == 0)

        // A run that cannot begin (its credentials cannot be read: exit 4) is a failed run too, in
        // the push and in the file; the last success stays in both.
        try OperationsTests.pipeline(folder: folder, extra: "metrics_file: \(folder)/ops.prom").write(
            toFile: folder + "/file.yaml",
            atomically: true,
            encoding: .utf8
        )
        #expect(try await CommandLineTests.faceexport(["run", folder + "/file.yaml"]).status == 0)
        let fileSuccess = try #require(
            try String(contentsOfFile: folder + "/ops.prom", encoding: .utf8).split(separator: "\n")
                .first { $0.hasPrefix("faceexport_last_success_timestamp_seconds") }
        )
        try gateway.clearGroup(job: "faceexport", pipeline: "ops")
        try """
        name: ops
        endpoint: https://api-sgp.yljz.com
        credentials: {api_key_file: \(folder)/missing-key, api_secret_file: \(folder)/missing-secret}
        output_dir: \(folder)/out
        metrics: {pushgateway: "\(gateway.url)", file: \(folder)/ops.prom}
        outputs: [{format: ndjson, path: faces.ndjson}]
        """.write(toFile: folder + "/unreadable.yaml", atomically: true, encoding: .utf8)
        let unreadable = try await CommandLineTests.faceexport(["run", folder + "/unreadable.yaml"])
        #expect(unreadable.status == 4, "\(unreadable.stderr)")
        #expect(try gateway.value("faceexport_last_run_outcome", group + [#"outcome="failed""#]) == 1)
        #expect(try gateway.value("faceexport_run_in_progress", group) == 0)
        let file = try String(contentsOfFile: folder + "/ops.prom", encoding: .utf8)
        #expect(file.contains("faceexport_last_run_outcome{pipeline=\"ops\",outcome=\"failed\"} 1\n"))
        #expect(file.contains(String(fileSuccess) + "\n"), "the file keeps the last success")
    }

    @Test func aPushgatewayThatIsDownIsAWarningNotAFailedExport() async throws {
        let gateway = try await offThePool { try PushgatewayServer() }
        let url = gateway.url
        gateway.stop()
        let folder = try makeTemporaryDirectory()
        try OperationsTests.pipeline(folder: folder, extra: "metrics: {pushgateway: \"\(url)\"}").write(
            toFile: folder + "/p.yaml",
            atomically: true,
            encoding: .utf8
        )
        let result = try await CommandLineTests.faceexport(["run", folder + "/p.yaml"])
        #expect(result.status == 0)
        let warnings = result.stderr.split(separator: "\n").filter { $0.contains("Pushgateway did not take") }
        #expect(!warnings.isEmpty, "\(result.stderr)")
        #expect(warnings.allSatisfy { $0.contains("refused the connection") })
        let dataset = DatasetGenerator(groups: 12, faces: 600, sizing: .mixed, seed: 8).make()
        #expect(try readNDJSON(folder + "/out/faces.ndjson").count == dataset.faceCount)
    }

    @Test func whileARunGoesOnItsFiguresArePushedEveryIntervalUnderItsShard() async throws {
        let gateway = try await offThePool { try PushgatewayServer() }
        defer { gateway.stop() }
        var configuration = CurlTransport.Configuration()
        configuration.network.proxy = .none
        let transport = RecordingTransport(try CurlTransport(configuration: configuration))
        let clock = ManualClock()
        let pusher = MetricsPusher(
            root: URL(string: gateway.url)!,
            job: "nightly",
            pipeline: "faces/eu \"main\"",
            shard: Shard("1/4"),
            interval: 30,
            transport: transport,
            clock: clock,
            logger: Logger(label: "test")
        )
        let faces = Mutex(0)
        // The manual clock never waits: pushes follow each other until three have been made.
        let threePushes = DispatchSemaphore(value: 0)
        transport.onSend = { count in if count == 3 { threePushes.signal() } }
        pusher.start {
            faces.withLock {
                $0 += 100
                return RunProgress(groupsScheduled: 8, groupsWalked: $0 / 100, faces: $0, pages: $0 / 50, retries: 1)
            }
        }
        await runOffThePool { threePushes.wait() }
        let group = [#"job="nightly""#, #"pipeline="faces/eu \"main\"""#, #"shard="1/4""#]
        #expect(try gateway.value("faceexport_run_in_progress", group) == 1)
        #expect(try gateway.value("faceexport_groups_scheduled", group) == 8)
        #expect(try (gateway.value("faceexport_faces_exported", group) ?? 0) >= 300)
        await runOffThePool {
            pusher.finish(
                with: .running(
                    RunProgress(groupsScheduled: 8, groupsWalked: 8, faces: 5, pages: 1, retries: 0),
                    elapsed: 9,
                    now: Date()
                )
            )
        }
        #expect(try gateway.value("faceexport_faces_exported", group) == 5)
        #expect(clock.sleeps.allSatisfy { $0 == 30 } && clock.sleeps.count >= 3, "\(clock.sleeps)")
        #expect(transport.bodies.allSatisfy { $0.contains("faceexport_build_info{version=") })
    }
}

/// A transport that passes every request on and keeps its body.
final class RecordingTransport: HTTPTransport, @unchecked Sendable {
    private let next: any HTTPTransport
    private let state = Mutex<[String]>([])
    /// Called with the number of requests sent so far, after each has been answered.
    var onSend: @Sendable (Int) -> Void = { _ in }

    init(_ next: any HTTPTransport) { self.next = next }

    var bodies: [String] { self.state.withLock { $0 } }

    func send(
        _ request: TransportRequest,
        completion: @escaping @Sendable (Result<TransportResponse, TransportFailure>) -> Void
    ) {
        let count = self.state.withLock {
            $0.append(String(decoding: request.body, as: UTF8.self))
            return $0.count
        }
        let onSend = self.onSend
        self.next.send(request) { result in
            completion(result)
            onSend(count)
        }
    }
}
