import AsyncHTTPClient
public import FaceSearch
public import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// A transport over one AsyncHTTPClient (SwiftNIO): the alternative to ``URLSessionTransport`` that
/// `http_client: asynchttpclient` selects.
///
/// Connections are HTTP/1.1, kept open and reused, at most ``Configuration/maximumConnectionsPerHost``
/// per host; a refused connection fails at once (the walker retries it) instead of AsyncHTTPClient's
/// own retries until the deadline.
public final class AsyncHTTPClientTransport: FaceSearchTransport {
    /// How the client is set up.
    public struct Configuration: Sendable {
        /// Connections kept open per host; set it to the number of requests in flight. Default 8.
        public var maximumConnectionsPerHost: Int = 8
        /// Seconds to wait for a whole answer before the request fails as a timeout. Default 30.
        public var requestTimeout: TimeInterval = 30
        /// Bytes read from a connection at a time, at most. Default 16 KiB: with 64 connections
        /// receiving 200 KB answers, SwiftNIO's default of 64 KiB held 13 MB more at the peak, for
        /// 1–2% less CPU.
        public var largestRead = 16 * 1024

        /// Creates a configuration with the defaults.
        public init() {}
    }

    private let client: HTTPClient
    private let requestTimeout: TimeAmount

    /// Creates the transport and its client, on the process's shared event loops.
    public init(configuration: Configuration = .init()) {
        var pool = HTTPClient.Configuration.ConnectionPool(
            idleTimeout: .seconds(60),
            concurrentHTTP1ConnectionsPerHostSoftLimit: configuration.maximumConnectionsPerHost
        )
        pool.retryConnectionEstablishment = false
        var clientConfiguration = HTTPClient.Configuration(
            timeout: .init(connect: .seconds(10)),
            connectionPool: pool,
            decompression: .disabled
        )
        clientConfiguration.httpVersion = .http1Only
        clientConfiguration.redirectConfiguration = .disallow
        // AsyncHTTPClient's hook on each new connection's channel is the one way to its reads.
        let readSize = configuration.largestRead
        clientConfiguration.http1_1ConnectionDebugInitializer = { channel in
            channel.setOption(
                ChannelOptions.recvAllocator,
                value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: min(2048, readSize), maximum: readSize)
            )
        }
        self.client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
        self.requestTimeout = .nanoseconds(Int64(configuration.requestTimeout * 1e9))
    }

    deinit {
        // Closes the connections; the shared event loops stay.
        self.client.shutdown { _ in }
    }

    public func send(
        _ request: TransportRequest,
        completion: @escaping @Sendable (Result<TransportResponse, TransportFailure>) -> Void
    ) {
        let outgoing: HTTPClient.Request
        do {
            outgoing = try HTTPClient.Request(
                url: request.url.absoluteString,
                method: .POST,
                headers: ["Content-Type": request.contentType],
                body: .data(request.body)
            )
        } catch {
            completion(.failure(.connection("the request could not be made for \(request.url.absoluteString)")))
            return
        }
        let host = request.url.host ?? "the server"
        let task = self.client.execute(
            request: outgoing,
            delegate: BodyCollector(),
            deadline: .now() + self.requestTimeout
        )
        task.futureResult.whenComplete { result in
            switch result {
            case .success(let response):
                completion(.success(response))
            case .failure(let error as HTTPClientError) where error == .deadlineExceeded || error == .readTimeout:
                completion(.failure(.timeout))
            case .failure(let error):
                completion(.failure(Self.failure(error, host: host)))
            }
        }
    }
}

extension AsyncHTTPClientTransport {
    /// A failure of SwiftNIO or AsyncHTTPClient in plain words: their errors print as type dumps with
    /// source paths of the dependencies, which tell a person nothing.
    static func failure(_ error: any Error, host: String) -> TransportFailure {
        let text = String(reflecting: error)
        func has(_ parts: String...) -> Bool { parts.contains { text.localizedCaseInsensitiveContains($0) } }
        if has("CERTIFICATE_VERIFY_FAILED", "unable to get local issuer", "self signed", "self-signed") {
            return .tls("\(host): the server's certificate is not trusted by this machine (unknown issuer)")
        }
        if has("certificate has expired", "CERTIFICATE_EXPIRED") {
            return .tls("\(host): the server's certificate has expired")
        }
        if has("hostname", "HOST_MISMATCH", "leafCertificateNameMismatch", "invalid name") {
            return .tls("\(host): the server's certificate is for another name")
        }
        if has("handshakeFailed", "NIOSSL", "BoringSSL", "WRONG_VERSION_NUMBER") {
            return .tls("\(host): the TLS handshake failed (no secure connection could be agreed)")
        }
        if has("connectionRefused", "Connection refused", "ECONNREFUSED") {
            return .connection("\(host) refused the connection")
        }
        if has("dnsA", "NXDOMAIN", "Name or service not known", "nodename nor servname", "No address") {
            return .connection("the host name \(host) could not be resolved (DNS)")
        }
        if has("connectTimeout") { return .connection("no connection to \(host) within the timeout") }
        if has("reset", "ECONNRESET") { return .connection("the connection to \(host) was reset") }
        if has("remoteConnectionClosed", "closed", "EOF") {
            return .connection("\(host) closed the connection before answering")
        }
        return .connection("the connection to \(host) failed")
    }
}

/// Collects an answer into one `Data` of the size its `Content-Length` announces: no buffer grown
/// by doubling, no copy at the end.
private final class BodyCollector: HTTPClientResponseDelegate {
    typealias Response = TransportResponse

    /// The most a `Content-Length` may make it reserve ahead: a page of 1,000 faces is about 200 KB.
    private static let largestReservation = 16 << 20

    private let answer = Mutex(TransportResponse(status: 0, body: Data()))

    func didReceiveHead(task: HTTPClient.Task<Response>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        let length = head.headers.first(name: "Content-Length").flatMap { Int($0) } ?? 0
        self.answer.withLock { answer in
            answer.status = Int(head.status.code)
            answer.retryAfter = head.headers.first(name: "Retry-After")
            answer.body.reserveCapacity(min(max(length, 0), Self.largestReservation))
        }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Response>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        self.answer.withLock { answer in
            buffer.withUnsafeReadableBytes { bytes in answer.body.append(bytes.assumingMemoryBound(to: UInt8.self)) }
        }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didFinishRequest(task: HTTPClient.Task<Response>) throws -> TransportResponse {
        self.answer.withLock { $0 }
    }
}
