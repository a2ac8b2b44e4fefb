import AsyncHTTPClient
public import FaceSearch
public import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

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
            completion(.failure(.connection("\(error)")))
            return
        }
        self.client.execute(request: outgoing, deadline: .now() + self.requestTimeout).whenComplete { result in
            switch result {
            case .success(let response):
                completion(
                    .success(
                        TransportResponse(
                            status: Int(response.status.code),
                            retryAfter: response.headers.first(name: "Retry-After"),
                            body: response.body.map { Data(buffer: $0, byteTransferStrategy: .noCopy) } ?? Data()
                        )
                    )
                )
            case .failure(let error as HTTPClientError) where error == .deadlineExceeded || error == .readTimeout:
                completion(.failure(.timeout))
            case .failure(let error):
                completion(.failure(.connection("\(error)")))
            }
        }
    }
}
