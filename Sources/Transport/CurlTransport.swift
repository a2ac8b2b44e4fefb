import CCurl
public import Foundation
import Synchronization

/// A transport on libcurl's C API and the system's OpenSSL: `http_client: curl`.
///
/// Each call runs on the caller's thread (the stages' workers block on their calls anyway) with an
/// easy handle taken from a pool, so no handle is used by two threads at once and each keeps its
/// connection open for the next call. The body is sent from the request's memory while the call
/// lasts, not copied (a part of an upload is 16 MiB); a retry is a new request, so nothing is
/// rewound. Certificates are always verified against the system's trust
/// store, TLS 1.2 at least; the standard proxy variables (`https_proxy`, `http_proxy`, `no_proxy`)
/// are honoured by libcurl itself.
public final class CurlTransport: HTTPTransport {
    /// How calls are made.
    public struct Configuration: Sendable {
        /// Seconds to open a connection (TCP and TLS). Default 10.
        public var connectTimeout: TimeInterval = 10
        /// Seconds for a whole call, from connecting to the last byte of the answer. Default 30.
        public var requestTimeout: TimeInterval = 30
        /// An answer slower than 1 byte a second for this many seconds is cut (a stalled connection). Default 20.
        public var stallSeconds: Int = 20
        /// The proxy and the certificates to trust. Default: the proxy variables, the system's store.
        public var network = NetworkOptions()
        /// The largest answer read, in bytes; a larger one is cut off and the call fails (and may be
        /// retried). Default 4 MiB: a page of 1,000 faces at the API's largest fields, every character
        /// of `user_data` written as a JSON escape, is 1.7 MB; a larger body is a broken proxy or server,
        /// and memory holds at most this much per call in flight, whatever is sent.
        public var maximumAnswerBytes = 4 << 20

        /// Creates a configuration with the defaults.
        public init() {}
    }

    private let configuration: Configuration
    /// The PEM certificates to trust, when more than the system's store: its bundle and `ca_file`.
    private let trusted: Data?
    /// Easy handles not in use, each with the connections it keeps.
    private let idle = Mutex<[EasyHandle]>([])

    /// libcurl's global set-up, done once before the first handle (it is not thread-safe itself).
    private static let globalSetUp: Bool = curl_global_init(3) == CURLE_OK  // CURL_GLOBAL_ALL

    /// Creates the transport.
    public init(configuration: Configuration = .init()) throws(TransportSetUpError) {
        precondition(Self.globalSetUp, "libcurl could not be initialised")
        self.configuration = configuration
        guard let caFile = configuration.network.caFile else {
            self.trusted = nil
            return
        }
        guard let own = FileManager.default.contents(atPath: caFile),
            String(decoding: own, as: UTF8.self).contains("-----BEGIN CERTIFICATE-----")
        else {
            throw TransportSetUpError(description: "tls.ca_file \(caFile) cannot be read or holds no PEM certificate")
        }
        if configuration.network.caOnly {
            self.trusted = own
        } else {
            let system =
                faceexport_curl_default_ca_file().map { String(cString: $0) } ?? "/etc/ssl/certs/ca-certificates.crt"
            self.trusted = (FileManager.default.contents(atPath: system) ?? Data()) + Data("\n".utf8) + own
        }
    }

    public func send(
        _ request: TransportRequest,
        completion: @escaping @Sendable (Result<TransportResponse, TransportFailure>) -> Void
    ) {
        let handle =
            self.idle.withLock { $0.popLast() } ?? EasyHandle(configuration: self.configuration, trusted: self.trusted)
        let result = handle.perform(request)
        self.idle.withLock { $0.append(handle) }
        completion(result)
    }
}

/// Why a transport could not be set up (a CA file that cannot be read, …).
public struct TransportSetUpError: Error, CustomStringConvertible {
    public let description: String
}

/// One libcurl easy handle, used by one thread at a time. What is the same for every call (TLS,
/// timeouts, proxy, callbacks, the trusted certificates) is set once, when the handle is made.
private final class EasyHandle: @unchecked Sendable {
    private let easy: UnsafeMutableRawPointer
    private let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))
    private let maximumAnswerBytes: Int

    init(configuration: CurlTransport.Configuration, trusted: Data?) {
        guard let easy = curl_easy_init() else { fatalError("libcurl could not make a handle") }
        self.easy = easy
        self.maximumAnswerBytes = configuration.maximumAnswerBytes
        self.long(CURLOPT_NOSIGNAL, 1)
        self.long(CURLOPT_TCP_NODELAY, 1)
        self.long(CURLOPT_FOLLOWLOCATION, 0)
        self.long(CURLOPT_SSL_VERIFYPEER, 1)
        self.long(CURLOPT_SSL_VERIFYHOST, 2)
        self.long(CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2)
        self.long(CURLOPT_CONNECTTIMEOUT_MS, Int(configuration.connectTimeout * 1000))
        self.long(CURLOPT_TIMEOUT_MS, Int(configuration.requestTimeout * 1000))
        self.long(CURLOPT_LOW_SPEED_LIMIT, 1)
        self.long(CURLOPT_LOW_SPEED_TIME, configuration.stallSeconds)
        self.long(CURLOPT_POST, 1)
        self.pointer(CURLOPT_PROTOCOLS_STR, "http,https")
        self.pointer(CURLOPT_ERRORBUFFER, self.errorBuffer)
        _ = faceexport_curl_setopt_callback(easy, CURLOPT_WRITEFUNCTION, collectBody)
        _ = faceexport_curl_setopt_callback(easy, CURLOPT_HEADERFUNCTION, collectHeader)
        if let trusted {
            _ = trusted.withUnsafeBytes { faceexport_curl_set_ca_blob(easy, $0.baseAddress, $0.count) }
        }
        switch configuration.network.proxy {
        case .environment:
            break  // libcurl reads https_proxy, http_proxy and no_proxy
        case .none:
            self.pointer(CURLOPT_PROXY, "")  // no proxy, whatever the environment says
        case .server(let proxy, let username, let password):
            self.pointer(CURLOPT_PROXY, proxy)
            self.pointer(CURLOPT_PROXYUSERNAME, username)
            self.pointer(CURLOPT_PROXYPASSWORD, password)
        }
    }

    deinit {
        curl_easy_cleanup(self.easy)
        self.errorBuffer.deallocate()
    }

    private func long(_ option: CURLoption, _ value: Int) { _ = faceexport_curl_setopt_long(self.easy, option, value) }

    /// Sets a pointer option; libcurl copies the strings it is given.
    private func pointer(_ option: CURLoption, _ value: UnsafeRawPointer?) {
        _ = faceexport_curl_setopt_pointer(self.easy, option, value)
    }

    func perform(_ request: TransportRequest) -> Result<TransportResponse, TransportFailure> {
        let host = request.url.host ?? "the server"
        let answer = CurlAnswer(limit: self.maximumAnswerBytes)
        let context = Unmanaged.passUnretained(answer).toOpaque()
        var headers: UnsafeMutablePointer<curl_slist>?
        // An empty value removes the header: libcurl would otherwise call every body a form.
        headers = curl_slist_append(headers, "Content-Type: \(request.contentType)")
        for (name, value) in request.headers { headers = curl_slist_append(headers, "\(name): \(value)") }
        headers = curl_slist_append(headers, "Expect:")
        defer { curl_slist_free_all(headers) }
        self.errorBuffer[0] = 0
        // Every request is a POST with its body in memory; another method replaces the word only
        // (a handle is reused, so it is set, or cleared, on every call).
        self.pointer(CURLOPT_CUSTOMREQUEST, request.method == "POST" ? nil : request.method)
        self.pointer(CURLOPT_URL, request.url.absoluteString)
        self.pointer(CURLOPT_HTTPHEADER, headers)
        self.pointer(CURLOPT_WRITEDATA, context)
        self.pointer(CURLOPT_HEADERDATA, context)
        _ = faceexport_curl_setopt_offset(self.easy, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count))
        // libcurl reads the body where it lies, only during the transfer below, which the bytes outlive.
        let code = request.body.withUnsafeBytes { body in
            self.pointer(CURLOPT_POSTFIELDS, body.baseAddress ?? UnsafeRawPointer(headers))
            return withExtendedLifetime(answer) { curl_easy_perform(self.easy) }
        }
        var status = 0
        _ = faceexport_curl_getinfo_long(self.easy, CURLINFO_RESPONSE_CODE, &status)
        if answer.tooLarge { return .failure(.tooLarge(status: status, limit: self.maximumAnswerBytes)) }
        guard code == CURLE_OK else { return .failure(self.failure(code, host: host)) }
        return .success(
            TransportResponse(status: status, retryAfter: answer.retryAfter, headers: answer.headers, body: answer.body)
        )
    }

    /// libcurl's error in plain words, with the host; its own message (the error buffer) for TLS.
    private func failure(_ code: CURLcode, host: String) -> TransportFailure {
        let detail = String(cString: self.errorBuffer)
        let said = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        switch code {
        case CURLE_OPERATION_TIMEDOUT:
            return .timeout
        case CURLE_COULDNT_RESOLVE_HOST:
            return .connection("the host name \(host) could not be resolved (DNS)")
        case CURLE_COULDNT_RESOLVE_PROXY:
            return .connection("the proxy's host name could not be resolved (DNS): \(said)")
        case CURLE_COULDNT_CONNECT:
            return .connection("\(host) refused the connection (\(said))")
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE,
            CURLE_SSL_CIPHER, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_CRL_BADFILE:
            return .tls("\(host): \(said)")
        case CURLE_RECV_ERROR where said.contains("CONNECT") || said.contains("proxy"):
            return .proxy(said)
        case CURLE_SEND_ERROR, CURLE_RECV_ERROR:
            return .connection("the connection to \(host) was reset (\(said))")
        case CURLE_PARTIAL_FILE:
            return .connection("the answer from \(host) was cut short (\(said))")
        case CURLE_GOT_NOTHING:
            return .connection("\(host) closed the connection without answering")
        default:
            return .connection("\(host): \(said)")
        }
    }
}

/// What libcurl's callbacks fill in during one call.
final class CurlAnswer {
    var body = Data()
    var retryAfter: String?
    /// The final answer's headers, names in lower case.
    var headers: [String: String] = [:]
    /// The most body bytes kept; past it the transfer is aborted.
    let limit: Int
    /// Whether the answer was (or announced itself) larger than ``limit``.
    private(set) var tooLarge = false

    init(limit: Int) {
        self.limit = limit
    }

    /// Appends a piece of the body; false (abort the transfer) once the body would pass the limit.
    func append(_ piece: UnsafeRawBufferPointer) -> Bool {
        guard self.body.count + piece.count <= self.limit else {
            self.tooLarge = true
            return false
        }
        self.body.append(piece.baseAddress!.assumingMemoryBound(to: UInt8.self), count: piece.count)
        return true
    }

    /// One header line, `Name: value\r\n`, or a status line that starts a new answer (after a 100);
    /// false (abort the transfer) when a `Content-Length` announces more than the limit.
    ///
    /// Read as bytes: `Retry-After` and `Content-Length` are acted on; every header is kept by name.
    func header(_ line: UnsafeRawBufferPointer) -> Bool {
        if line.starts(with: "HTTP/".utf8) {
            self.retryAfter = nil
            self.headers = [:]
            return true
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return true }
        let name = Self.trimmed(line[..<colon])
        let value = Self.trimmed(line[(colon + 1)...])
        self.headers[String(decoding: name, as: UTF8.self).lowercased()] = String(decoding: value, as: UTF8.self)
        if Self.named(name, Self.retryAfterName) {
            self.retryAfter = String(decoding: value, as: UTF8.self)
        } else if Self.named(name, Self.contentLengthName), let length = Int(String(decoding: value, as: UTF8.self)),
            length > 0
        {
            guard length <= self.limit else {
                self.tooLarge = true
                return false
            }
            // Room for the whole body at once, not a dozen reallocations (a bound, not a promise).
            self.body.reserveCapacity(length)
        }
        return true
    }

    private static let retryAfterName = Array("retry-after".utf8)
    private static let contentLengthName = Array("content-length".utf8)

    /// Whether a header's name is `lowercased` whatever its case.
    private static func named(_ name: Slice<UnsafeRawBufferPointer>, _ lowercased: [UInt8]) -> Bool {
        name.count == lowercased.count
            && zip(name, lowercased).allSatisfy({ ((0x41...0x5A).contains($0) ? $0 | 0x20 : $0) == $1 })
    }

    /// Without leading and trailing spaces, tabs, CR and LF.
    private static func trimmed(_ bytes: Slice<UnsafeRawBufferPointer>) -> Slice<UnsafeRawBufferPointer> {
        let blank: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A }
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, blank(bytes[start]) { start += 1 }
        while end > start, blank(bytes[end - 1]) { end -= 1 }
        return bytes[start..<end]
    }
}

/// libcurl's write callback: appends a piece of the body.
private let collectBody: faceexport_curl_data_callback = { data, size, count, context in
    guard let data, let context else { return 0 }
    let length = size * count
    let answer = Unmanaged<CurlAnswer>.fromOpaque(context).takeUnretainedValue()
    return answer.append(UnsafeRawBufferPointer(start: data, count: length)) ? length : 0
}

/// libcurl's header callback: one header line at a time, the status lines included.
private let collectHeader: faceexport_curl_data_callback = { data, size, count, context in
    guard let data, let context else { return 0 }
    let length = size * count
    let keep = Unmanaged<CurlAnswer>.fromOpaque(context).takeUnretainedValue()
        .header(UnsafeRawBufferPointer(start: data, count: length))
    return keep ? length : 0
}
