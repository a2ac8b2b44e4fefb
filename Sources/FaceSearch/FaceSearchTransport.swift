public import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTP exchange as the client sees it.
public struct TransportRequest: Sendable {
    /// Where to POST.
    public var url: URL
    /// The `Content-Type` header.
    public var contentType: String
    /// The encoded body.
    public var body: Data
}

/// An HTTP answer: status, headers the client reads, and the whole body.
public struct TransportResponse: Sendable {
    /// The HTTP status code.
    public var status: Int
    /// The `Retry-After` header, when the server sent one.
    public var retryAfter: String?
    /// The body.
    public var body: Data

    /// Creates an answer.
    public init(status: Int, retryAfter: String? = nil, body: Data) {
        self.status = status
        self.retryAfter = retryAfter
        self.body = body
    }
}

/// Why an exchange produced no answer.
public enum TransportFailure: Error, Sendable {
    /// No answer within the timeout.
    case timeout
    /// The connection failed, was reset, or the body was cut short; the reason in plain words.
    case connection(String)
    /// The server's certificate could not be verified, or TLS could not be agreed: no retry helps.
    case tls(String)
    /// The proxy refused to carry the call (e.g. `403` to `CONNECT`): no retry helps.
    case proxy(String)
}

/// How calls reach the API: through which proxy, trusting which certificates.
public struct NetworkOptions: Sendable, Hashable {
    /// Which proxy carries the calls.
    public enum Proxy: Sendable, Hashable {
        /// The standard variables: `https_proxy`, `http_proxy` (lower case), `no_proxy`.
        case environment
        /// None, whatever the environment says.
        case none
        /// This proxy URL, with its credentials (read from the environment or a file, never the pipeline).
        case server(String, username: String?, password: String?)
    }

    /// The proxy. Default ``Proxy/environment``.
    public var proxy = Proxy.environment
    /// A PEM bundle of certificates to trust besides the system's store. Default none.
    public var caFile: String?
    /// Whether ``caFile`` is trusted instead of the system's store. Default false.
    public var caOnly = false

    /// The defaults: the proxy variables and the system's store.
    public init() {}

    /// Whether these are the defaults.
    public var isDefault: Bool { self == NetworkOptions() }
}

/// Sends requests; the client's only way to the network, so tests and benchmarks can replace it.
public protocol FaceSearchTransport: Sendable {
    /// Sends `request` and calls `completion` exactly once, on any thread.
    func send(
        _ request: TransportRequest,
        completion: @escaping @Sendable (Result<TransportResponse, TransportFailure>) -> Void
    )
}

/// A transport over one shared `URLSession` (libcurl on Linux).
///
/// - Important: On Linux, when a reused keep-alive connection is reset after the request was sent,
///   libcurl re-sends the request on a fresh connection, and FoundationNetworking cannot rewind the
///   body for it: with a `Data` body the call stalls (spinning a core) until the request timeout,
///   with a stream body the retry goes out with an empty body. This transport sends `Data` bodies,
///   so such a call fails as a timeout and the walker retries it; keep ``Configuration/requestTimeout``
///   short enough for that to be cheap.
public final class URLSessionTransport: FaceSearchTransport {
    /// How the shared session is set up.
    public struct Configuration: Sendable {
        /// Connections kept open per host; set it to the number of requests in flight. Default 8.
        public var maximumConnectionsPerHost: Int = 8
        /// Seconds to wait for an answer before the request fails as a timeout. Default 30.
        public var requestTimeout: TimeInterval = 30

        /// Creates a configuration with the defaults.
        public init() {}
    }

    private let session: URLSession

    /// Creates the transport and its session.
    public init(configuration: Configuration = .init()) {
        let sessionConfiguration = URLSessionConfiguration.ephemeral
        sessionConfiguration.httpMaximumConnectionsPerHost = configuration.maximumConnectionsPerHost
        sessionConfiguration.timeoutIntervalForRequest = configuration.requestTimeout
        sessionConfiguration.requestCachePolicy = .reloadIgnoringLocalCacheData
        sessionConfiguration.urlCache = nil
        sessionConfiguration.httpCookieStorage = nil
        self.session = URLSession(configuration: sessionConfiguration)
    }

    deinit { self.session.invalidateAndCancel() }

    /// URLSession's codes for a certificate that could not be verified or TLS that could not be agreed.
    private static let tlsFailures: Set<URLError.Code> = [
        .secureConnectionFailed, .serverCertificateHasBadDate, .serverCertificateUntrusted,
        .serverCertificateHasUnknownRoot, .serverCertificateNotYetValid, .clientCertificateRejected,
    ]

    public func send(
        _ request: TransportRequest,
        completion: @escaping @Sendable (Result<TransportResponse, TransportFailure>) -> Void
    ) {
        var urlRequest = URLRequest(url: request.url)
        urlRequest.httpMethod = "POST"
        urlRequest.setValue(request.contentType, forHTTPHeaderField: "Content-Type")
        urlRequest.httpBody = request.body
        let task = self.session.dataTask(with: urlRequest) { data, response, error in
            if let error {
                let urlError = error as? URLError
                let host = request.url.host ?? "the server"
                if urlError?.code == .timedOut {
                    completion(.failure(.timeout))
                } else if let code = urlError?.code, Self.tlsFailures.contains(code) {
                    completion(.failure(.tls("\(host): \(urlError?.localizedDescription ?? "TLS failed")")))
                } else {
                    completion(
                        .failure(
                            .connection(urlError.map { "\($0.code.rawValue) \($0.localizedDescription)" } ?? "\(error)")
                        )
                    )
                }
                return
            }
            guard let http = response as? HTTPURLResponse else {
                completion(.failure(.connection("no HTTP answer")))
                return
            }
            completion(
                .success(
                    TransportResponse(
                        status: http.statusCode,
                        retryAfter: http.value(forHTTPHeaderField: "Retry-After"),
                        body: data ?? Data()
                    )
                )
            )
        }
        task.resume()
    }
}
