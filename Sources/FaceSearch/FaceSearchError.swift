import Foundation

/// Why a FaceSearch call failed, and what the caller should do about it.
///
/// The API's error strings are `CODE` or `CODE: detail`; ``apiCode`` holds the text before the first
/// colon and ``apiDetail`` what follows. The description never holds a credential or a signature.
public struct FaceSearchError: Error, Sendable, CustomStringConvertible {
    /// What a failed call means for the export.
    public enum Disposition: String, Sendable {
        /// Try again later: the API or the network failed for a moment.
        case retryable
        /// This group cannot be exported (unknown group, rejected arguments); other groups go on.
        case fatalForGroup = "fatal_for_group"
        /// Nothing will succeed (credentials, quota, wrong URL): stop the run.
        case fatalForRun = "fatal_for_run"
    }

    private enum Code: Sendable {
        case api(status: Int, code: String, detail: String?)
        case plainText(status: Int, text: String)
        case transport(String)
        case tls(String)
        case proxy(String)
        case timeout
        case malformedResponse(status: Int, reason: String)
        case invalidEndpoint(String)
    }

    private let code: Code
    /// The call that failed, e.g. `list`.
    public internal(set) var call: String
    /// The `request_id` the API returned, when it returned one.
    public let requestID: String?
    /// Seconds the server asked to wait (`Retry-After`), when it asked.
    public internal(set) var retryAfter: Double?

    private init(code: Code, call: String, requestID: String? = nil) {
        self.code = code
        self.call = call
        self.requestID = requestID
    }

    /// An error answer of the API.
    public static func api(status: Int, error: String, requestID: String?, call: String) -> Self {
        let parts = error.split(separator: ":", maxSplits: 1)
        let code = parts.first.map { $0.trimmingCharacters(in: .whitespaces) } ?? error
        let detail = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : nil
        return Self(code: .api(status: status, code: code, detail: detail), call: call, requestID: requestID)
    }

    /// A non-JSON error answer, such as the plain-text body of a 413.
    public static func plainText(status: Int, text: String, call: String) -> Self {
        Self(code: .plainText(status: status, text: String(text.prefix(200))), call: call)
    }

    /// The request did not complete: refused, reset or cut connection.
    public static func transport(_ reason: String, call: String) -> Self {
        Self(code: .transport(reason), call: call)
    }

    /// The server's certificate could not be verified, or TLS could not be agreed.
    public static func tls(_ reason: String, call: String) -> Self { Self(code: .tls(reason), call: call) }

    /// The proxy refused to carry the call.
    public static func proxy(_ reason: String, call: String) -> Self { Self(code: .proxy(reason), call: call) }

    /// No answer within the request timeout.
    public static func timeout(call: String) -> Self { Self(code: .timeout, call: call) }

    /// The answer could not be decoded: truncated or not the documented shape.
    public static func malformedResponse(status: Int, reason: String, requestID: String? = nil, call: String) -> Self {
        Self(code: .malformedResponse(status: status, reason: reason), call: call, requestID: requestID)
    }

    /// The endpoint is not a URL the client may call.
    public static func invalidEndpoint(_ reason: String) -> Self { Self(code: .invalidEndpoint(reason), call: "-") }

    /// The HTTP status, when an answer arrived.
    public var httpStatus: Int? {
        switch self.code {
        case .api(let status, _, _), .plainText(let status, _), .malformedResponse(let status, _): status
        case .transport, .tls, .proxy, .timeout, .invalidEndpoint: nil
        }
    }

    /// Whether the call timed out: retrying it costs more of the retry budget.
    public var isTimeout: Bool {
        if case .timeout = self.code { return true }
        return false
    }

    /// The API's error code, e.g. `AUTHORIZATION_ERROR`.
    public var apiCode: String? {
        if case .api(_, let code, _) = self.code { return code }
        return nil
    }

    /// The text after the code's colon, e.g. `EXPIRED_SIGN` or the name of a missing field.
    public var apiDetail: String? {
        if case .api(_, _, let detail) = self.code { return detail }
        return nil
    }

    /// Whether the API said it is throttling this account (`CONCURRENCY_LIMIT_EXCEEDED`, or HTTP 429).
    public var isRateLimited: Bool {
        self.apiCode == "CONCURRENCY_LIMIT_EXCEEDED" || self.httpStatus == 429
    }

    /// Whether the API could not be reached: no answer (refused, reset, DNS, timeout), or a 5xx that
    /// is not the API's own JSON (a proxy's, a load balancer's or a server's being deployed). The API's
    /// own error answers, `INTERNAL_ERROR` included, show it is up. Calls failing so while none is
    /// answered make an outage.
    public var isUnreachable: Bool {
        switch self.code {
        case .transport, .timeout: return true
        case .plainText(let status, _), .malformedResponse(let status, _): return status >= 500
        case .api, .tls, .proxy, .invalidEndpoint: return false
        }
    }

    /// Whether the API refused this call to this key while others may work: `API_NOT_FOUND`, or an
    /// `AUTHORIZATION_ERROR` that is not about the signature (`DENIED`, …). A region or a key without
    /// `get_size` answers so.
    public var isCallUnavailable: Bool {
        switch self.apiCode {
        case "API_NOT_FOUND": return true
        case "AUTHORIZATION_ERROR": return !["INVALID_SIGN", "EXPIRED_SIGN"].contains(self.apiDetail ?? "")
        default: return false
        }
    }

    /// Whether the API rejected the signature as expired: re-signing helps once, unless the clock is wrong.
    public var isExpiredSignature: Bool {
        self.apiCode == "AUTHORIZATION_ERROR" && self.apiDetail == "EXPIRED_SIGN"
    }

    /// Whether the API rejected `start` as out of range: the group's end lies beyond the reachable offsets.
    public var isStartOutOfRange: Bool {
        self.apiCode == "BAD_ARGUMENTS" && self.apiDetail == "start"
    }

    /// What the failure means for the export, per the API's documented errors.
    public var disposition: Disposition {
        switch self.code {
        case .transport, .timeout, .malformedResponse:
            return .retryable
        case .invalidEndpoint, .tls, .proxy:
            return .fatalForRun
        case .plainText(let status, _):
            if status >= 500 || status == 429 { return .retryable }
            if status == 401 || status == 403 || status == 404 { return .fatalForRun }
            return .fatalForGroup
        case .api(let status, let code, _):
            if self.isRateLimited || self.isExpiredSignature { return .retryable }
            switch code {
            case "INTERNAL_ERROR": return .retryable
            case "AUTHENTICATION_ERROR", "AUTHORIZATION_ERROR", "API_NOT_FOUND": return .fatalForRun
            case "INVALID_GROUP_ID", "INVALID_OUTER_ID", "BAD_ARGUMENTS", "MISSING_ARGUMENTS", "INVALID_FACE_TOKEN":
                return .fatalForGroup
            default:
                if status >= 500 { return .retryable }
                if status == 401 || status == 403 || status == 404 { return .fatalForRun }
                return .fatalForGroup
            }
        }
    }

    /// What a person should check when this error stops a run.
    public var hint: String? {
        if case .tls = self.code {
            return "if a proxy or a private CA signs the certificate, name its PEM file in the pipeline's tls.ca_file "
                + "or add it to this machine's trust store (update-ca-certificates); check the endpoint's host name "
                + "and this machine's clock"
        }
        if case .proxy = self.code {
            return "check the pipeline's proxy (or https_proxy) and that the proxy allows CONNECT to the API's host "
                + "and port"
        }
        if self.call == "group_list" && self.isCallUnavailable {
            return "this key cannot list its libraries (or the endpoint is wrong: it should be the service root, "
                + "e.g. https://api-sgp.yljz.com): name the libraries with groups or groups_file"
        }
        switch self.apiCode {
        case "AUTHENTICATION_ERROR":
            return "check the API key and secret of this account"
        case "AUTHORIZATION_ERROR":
            if self.isExpiredSignature { return "check this machine's clock: signatures keep expiring" }
            if self.apiDetail == "INVALID_SIGN" { return "check the API secret of this account" }
            return
                "the account is not allowed to call the API (\(self.apiDetail ?? "no reason given")): check its quota and status"
        case "API_NOT_FOUND":
            return "check the endpoint: it should be the service root, e.g. https://api-sgp.yljz.com"
        default:
            return nil
        }
    }

    public var description: String {
        var text: String
        switch self.code {
        case .api(let status, let code, let detail):
            text = "\(self.call): HTTP \(status) \(code)" + (detail.map { ": \($0)" } ?? "")
        case .plainText(let status, let body):
            text = "\(self.call): HTTP \(status) \(body)"
        case .transport(let reason):
            text = "\(self.call): connection failed: \(reason)"
        case .tls(let reason):
            text = "\(self.call): TLS failed: \(reason)"
        case .proxy(let reason):
            text = "\(self.call): the proxy refused the call: \(reason)"
        case .timeout:
            text = "\(self.call): no answer within the request timeout"
        case .malformedResponse(let status, let reason):
            text = "\(self.call): unreadable answer (HTTP \(status)): \(reason)"
        case .invalidEndpoint(let reason):
            text = "invalid endpoint: \(reason)"
        }
        if let requestID = self.requestID { text += " [request_id \(requestID)]" }
        return text
    }
}
