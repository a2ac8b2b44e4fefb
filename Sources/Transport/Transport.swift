public import Foundation
import Synchronization

/// One HTTP exchange as a client sees it.
public struct TransportRequest: Sendable {
    /// The method. Default `POST`.
    public var method: String
    /// Where to send it.
    public var url: URL
    /// The `Content-Type` header; none when empty.
    public var contentType: String
    /// Other headers, sent as given.
    public var headers: [(name: String, value: String)]
    /// The encoded body.
    public var body: Data

    /// Creates a `POST` of `body`.
    public init(url: URL, contentType: String, body: Data) {
        self.init(method: "POST", url: url, contentType: contentType, body: body)
    }

    /// Creates a request with any method (`GET`, `PUT`, `POST`, `DELETE`; not `HEAD`) and headers.
    public init(
        method: String,
        url: URL,
        contentType: String = "",
        headers: [(name: String, value: String)] = [],
        body: Data = Data()
    ) {
        self.method = method
        self.url = url
        self.contentType = contentType
        self.headers = headers
        self.body = body
    }
}

/// An HTTP answer: status, headers, and the whole body.
public struct TransportResponse: Sendable {
    /// The HTTP status code.
    public var status: Int
    /// The `Retry-After` header, when the server sent one.
    public var retryAfter: String?
    /// The headers of the final answer, names in lower case (a repeated name: its last value).
    public var headers: [String: String]
    /// The body.
    public var body: Data

    /// Creates an answer.
    public init(status: Int, retryAfter: String? = nil, headers: [String: String] = [:], body: Data) {
        self.status = status
        self.retryAfter = retryAfter
        self.headers = headers
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
    /// The answer (with HTTP `status`) was larger than `limit` bytes and was cut off: no page can be.
    case tooLarge(status: Int, limit: Int)
}

extension TransportFailure: CustomStringConvertible {
    /// The failure in plain words, for a caller's one-line message.
    public var description: String {
        switch self {
        case .timeout: "no answer in time"
        case .connection(let reason): reason
        case .tls(let reason): "TLS: \(reason)"
        case .proxy(let reason): "the proxy refused: \(reason)"
        case .tooLarge(let status, let limit): "an answer (HTTP \(status)) larger than \(limit) bytes"
        }
    }
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

/// Sends requests; a client's only way to the network, so tests and benchmarks can replace it.
public protocol HTTPTransport: Sendable {
    /// Sends `request` and calls `completion` exactly once, on any thread.
    func send(
        _ request: TransportRequest,
        completion: @escaping @Sendable (Result<TransportResponse, TransportFailure>) -> Void
    )
}

extension HTTPTransport {
    /// Sends `request` and waits for its answer on the calling thread (the stages' workers, which
    /// block on their calls anyway).
    @available(*, noasync, message: "blocks the calling thread")
    public func sendAndWait(_ request: TransportRequest) -> Result<TransportResponse, TransportFailure> {
        let outcome = Mutex<Result<TransportResponse, TransportFailure>?>(nil)
        let done = DispatchSemaphore(value: 0)
        self.send(request) { result in
            outcome.withLock { $0 = result }
            done.signal()
        }
        done.wait()
        return outcome.withLock { $0! }
    }
}
