public import FaceSearchSimulation
import Foundation
import Hummingbird
public import Logging
import NIOCore
import ServiceLifecycle
import UnixSignals

/// A FaceSearch server for tests, demos and benchmarks, honest to the spec: signed multipart POSTs
/// under `/finauth/search/group/<call>`, the documented errors, and the pagination quirks.
///
/// ```swift
/// let simulator = FaceSearchSimulator(configuration: .init(credentials: ["key": "secret"]),
///                                     dataset: DatasetGenerator(groups: 5, faces: 300, seed: 1).make())
/// try await simulator.withRunning { port in
///     // call http://127.0.0.1:\(port)
/// }
/// ```
public final class FaceSearchSimulator: Sendable {
    /// The API behind the HTTP layer, for its counters.
    public let api: FaceSearchAPI
    private let configuration: SimulatorConfiguration
    private let logger: Logger

    /// Creates a simulator serving `dataset`.
    public convenience init(
        configuration: SimulatorConfiguration,
        dataset: Dataset,
        logger: Logger = Logger(label: "faceexport.simulator")
    ) {
        let datasets = Dictionary(uniqueKeysWithValues: configuration.credentials.keys.map { ($0, dataset) })
        self.init(configuration: configuration, datasets: datasets, logger: logger)
    }

    /// Creates a simulator where each API key sees its own libraries.
    public init(
        configuration: SimulatorConfiguration,
        datasets: [String: Dataset],
        logger: Logger = Logger(label: "faceexport.simulator")
    ) {
        self.configuration = configuration
        self.api = FaceSearchAPI(configuration: configuration, datasets: datasets)
        var quiet = logger
        if quiet.logLevel < .warning { quiet.logLevel = .warning }
        self.logger = quiet
    }

    /// Serves until the calling task is cancelled or the process gets SIGINT/SIGTERM; `onStarted`
    /// receives the bound port.
    public func run(onStarted: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let group = ServiceGroup(
            configuration: .init(
                services: [self.makeApplication(onStarted: onStarted)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: self.logger
            )
        )
        try await group.run()
    }

    /// Runs the simulator for the duration of `body`, which receives the bound port, then shuts it
    /// down gracefully, also when `body` throws or the calling task is cancelled.
    public func withRunning<Result: Sendable>(_ body: (Int) async throws -> Result) async throws -> Result {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    self.makeApplication { port in
                        continuation.yield(port)
                        continuation.finish()
                    }
                ],
                logger: self.logger
            )
        )
        // The server runs in a task of its own, out of reach of the caller's cancellation, and is only
        // ever shut down gracefully: NIO traps when a serving task is cancelled while a connection it
        // accepted waits to be served ("Deinited NIOAsyncWriter without calling finish()").
        let server = Task { try await group.run() }
        let port = await Task {
            var iterator = ports.makeAsyncIterator()
            return await iterator.next()
        }.value
        guard let port else {
            // The server stopped before it listened: its error says why.
            try await server.value
            throw CancellationError()
        }
        let outcome: Swift.Result<Result, any Error>
        do {
            outcome = .success(try await body(port))
        } catch {
            outcome = .failure(error)
        }
        await group.triggerGracefulShutdown()
        let stopped = await server.result
        let result = try outcome.get()
        try stopped.get()
        return result
    }

    private func makeApplication(onStarted: @escaping @Sendable (Int) async -> Void) -> some Service {
        let api = self.api
        let maxBody = self.configuration.maxBodyBytes
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            let prefix = "/finauth/search/group/"
            let path = request.uri.path
            if path == Self.statisticsPath && request.method == .get {
                // Not part of the FaceSearch API: the simulator's own counters, for benchmarks.
                let body = (try? JSONEncoder().encode(api.counts)) ?? Data()
                return Self.response(SimulatedResponse(status: 200, contentType: "application/json", body: body))
            }
            let call = path.hasPrefix(prefix) && request.method == .post ? String(path.dropFirst(prefix.count)) : ""
            var request = request
            let body: ByteBuffer
            do {
                body = try await request.collectBody(upTo: maxBody)
            } catch {
                return Self.response(api.bodyTooLarge())
            }
            let fields = FormFields.parse(contentType: request.headers[.contentType], body: body) ?? [:]
            return Self.response(await api.respond(call: call, fields: fields))
        }
        let app = Application(
            responder: responder,
            server: .http1(
                configuration: .init(
                    additionalChannelHandlers: {
                        // Called once per accepted connection.
                        api.connectionAccepted()
                        return [ConnectionFaultHandler()]
                    }()
                )
            ),
            configuration: .init(
                address: .hostname(self.configuration.host, port: self.configuration.port),
                serverName: nil
            ),
            onServerRunning: { channel in await onStarted(channel.localAddress?.port ?? 0) },
            logger: self.logger
        )
        return app
    }

    /// Where a GET returns `SimulatorStatistics` as JSON (not part of the FaceSearch API).
    public static let statisticsPath = "/_simulator/statistics"

    private static func response(_ answer: SimulatedResponse) -> Response {
        var headers: HTTPFields = [.contentType: answer.contentType]
        if let retryAfter = answer.retryAfter { headers[.retryAfter] = String(retryAfter) }
        if answer.connectionFault == .endless {
            return Response(
                status: HTTPResponse.Status(code: answer.status),
                headers: headers,
                body: Self.endlessBody(answer.body)
            )
        }
        if let fault = answer.connectionFault { headers[ConnectionFaultHandler.marker] = fault.rawValue }
        return Response(
            status: HTTPResponse.Status(code: answer.status),
            headers: headers,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body))
        )
    }

    /// `body`, then its bytes again and again, chunked: until the client closes the connection, or
    /// 4 GiB, so a test that forgets to stop still ends.
    private static func endlessBody(_ body: Data) -> ResponseBody {
        ResponseBody { writer in
            // Chunks of 64 KiB at least: the answer's bytes repeated, not written a few hundred at a time.
            var bytes = body.isEmpty ? Data(" ".utf8) : body
            while bytes.count < 1 << 16 { bytes += bytes }
            let chunk = ByteBuffer(bytes: bytes)
            var sent = 0
            while sent < 4 << 30 {
                try await writer.write(chunk)
                sent += chunk.readableBytes
            }
            try await writer.finish(nil)
        }
    }
}
