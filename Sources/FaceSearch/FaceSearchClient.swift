import Dispatch
import Foundation
public import Logging
public import Transport

/// The FaceSearch calls the exporter makes: `group_list`, `get_size` and `list`.
///
/// Each method makes exactly one attempt with a fresh signature: retrying, pacing and deciding what
/// a failure means for the export belong to the page-walker stage.
///
/// - Important: The methods block the calling thread until the answer arrives. Call them on a
///   dedicated Dispatch queue, never from an `async` context, where blocking starves the cooperative pool.
///
/// ```swift
/// let client = FaceSearchClient(endpoint: try FaceSearchEndpoint("https://api-sgp.yljz.com"),
///                               signer: RequestSigner(credentials: credentials),
///                               transport: try CurlTransport())
/// let page = try client.listFaces(groupID: "library-1", start: 1, limit: 1000)
/// ```
public final class FaceSearchClient: Sendable {
    private let endpoint: FaceSearchEndpoint
    /// The URLs of the calls the client makes, made once (thousands of calls a run).
    private let urls: [String: URL]
    private let signer: RequestSigner
    private let transport: any HTTPTransport
    private let logger: Logger
    private let repairsText: Bool

    /// Creates a client for one account.
    ///
    /// - Parameters:
    ///   - endpoint: The service root the calls go to.
    ///   - signer: Signs every call with the account's credentials.
    ///   - transport: Carries the calls (`CurlTransport` in production).
    ///   - logger: Where failed attempts are logged, at debug level.
    ///   - repairsText: Whether a face whose text is not valid UTF-8 (or holds a lone
    ///   surrogate escape) is read with each ill-formed sequence replaced by U+FFFD and marked
    ///   (``FaceSpans/textRepaired``), rather than making its whole page unreadable. Default true.
    public init(
        endpoint: FaceSearchEndpoint,
        signer: RequestSigner,
        transport: any HTTPTransport,
        logger: Logger = Logger(label: "faceexport.facesearch"),
        repairsText: Bool = true
    ) {
        self.repairsText = repairsText
        self.endpoint = endpoint
        self.urls = Dictionary(
            uniqueKeysWithValues: ["list", "get_size", "group_list"].map { ($0, endpoint.url(for: $0)) }
        )
        self.signer = signer
        self.transport = transport
        self.logger = logger
    }

    /// One page of a library's faces, from the 1-based position `start`.
    @available(*, noasync, message: "blocks the calling thread")
    public func listFaces(groupID: String, start: Int, limit: Int) throws(FaceSearchError) -> FacePage {
        let fields = [("group_id", groupID), ("start", String(start)), ("limit", String(limit))]
        let repairing = self.repairsText
        return try self.call("list", fields: fields, groupID: groupID) { (result) throws(FaceSearchError) in
            try Self.decodeList(result, repairingText: repairing)
        }
    }

    /// The number of faces the library holds now.
    @available(*, noasync, message: "blocks the calling thread")
    public func groupSize(groupID: String) throws(FaceSearchError) -> Int {
        try self.call("get_size", fields: [("group_id", groupID)], groupID: groupID, decode: Self.decodeSize)
    }

    /// Every library of the account.
    @available(*, noasync, message: "blocks the calling thread")
    public func listGroups() throws(FaceSearchError) -> [GroupInfo] {
        let body: GroupListBody = try self.call("group_list", fields: [], groupID: nil) {
            (result) throws(FaceSearchError) in try Self.decode(result, call: "group_list")
        }
        return body.group_infos.map(GroupInfo.init)
    }

    private func call<Answer>(
        _ call: String,
        fields: [(String, String)],
        groupID: String?,
        decode: (Result<TransportResponse, TransportFailure>) throws(FaceSearchError) -> Answer
    ) throws(FaceSearchError) -> Answer {
        let result = self.exchange(call, fields: fields)
        do {
            return try decode(result)
        } catch {
            var metadata: Logger.Metadata = ["call": "\(call)", "error": "\(error)"]
            if let groupID { metadata["group"] = "\(groupID)" }
            metadata["request_id"] = "\(error.requestID ?? "none")"
            // Each attempt's failure is detail: the stages say what it meant (retried, a library failed,
            // the run stopped) once, where it is decided.
            self.logger.debug("FaceSearch call failed", metadata: metadata)
            throw error
        }
    }

    /// Signs `call` with `fields`, sends it and waits for its answer, not read (the bench measures
    /// what the calls alone cost with it).
    @available(*, noasync, message: "blocks the calling thread")
    package func exchange(_ call: String, fields: [(String, String)]) -> Result<TransportResponse, TransportFailure> {
        var form = MultipartFormBody()
        form.append(name: "sign", value: self.signer.makeSignature())
        form.append(name: "sign_version", value: "hmac_sha1")
        for (name, value) in fields { form.append(name: name, value: value) }
        let request = TransportRequest(
            url: self.urls[call] ?? self.endpoint.url(for: call),
            contentType: form.contentType,
            body: form.finished()
        )
        return self.transport.sendAndWait(request)
    }

    /// A `list` answer: the one-pass decoder for the common shape, `JSONDecoder` for the rest; with
    /// `repairingText`, the one-pass decoder again with ill-formed text repaired before giving up.
    static func decodeList(
        _ result: Result<TransportResponse, TransportFailure>,
        repairingText: Bool = false
    ) throws(FaceSearchError) -> FacePage {
        if case .success(let response) = result, response.status == 200 {
            let answer = response.body.withUnsafeBytes {
                // The repairing pass only for an answer the plain one could not read: it is rare.
                ListPageDecoder.decode($0) ?? (repairingText ? ListPageDecoder.decode($0, repairingText: true) : nil)
            }
            switch answer {
            case .page(let page)?:
                return page
            case .error(let message, let requestID)?:
                throw Self.apiError(message, requestID: requestID, in: response, call: "list")
            case nil:
                break
            }
        }
        let body: ListBody = try Self.decode(result, call: "list")
        return FacePage(body)
    }

    /// A `get_size` answer: the one-pass decoder for a whole-number count, `JSONDecoder` for the rest.
    static func decodeSize(_ result: Result<TransportResponse, TransportFailure>) throws(FaceSearchError) -> Int {
        if case .success(let response) = result, response.status == 200 {
            switch response.body.withUnsafeBytes({ ListPageDecoder.decodeSize($0) }) {
            case .count(let count, _)? where count >= 0:
                return count
            case .error(let message, let requestID)?:
                throw Self.apiError(message, requestID: requestID, in: response, call: "get_size")
            case .count?, nil:
                break
            }
        }
        return try Self.decodeSizeWithJSONDecoder(result)
    }

    /// A `get_size` answer read by `JSONDecoder` alone: the fallback, and what the one-pass decoder
    /// is tested against.
    static func decodeSizeWithJSONDecoder(
        _ result: Result<TransportResponse, TransportFailure>
    ) throws(FaceSearchError) -> Int {
        let body: SizeBody = try Self.decode(result, call: "get_size")
        guard let count = body.face_count.value, count >= 0 else {
            throw .malformedResponse(
                status: 200,
                reason: "face_count is not a count",
                requestID: body.request_id,
                call: "get_size"
            )
        }
        return count
    }

    /// The API's `error` read by the one-pass decoder, with the answer's `Retry-After`.
    private static func apiError(
        _ message: String,
        requestID: String?,
        in response: TransportResponse,
        call: String
    ) -> FaceSearchError {
        var error = FaceSearchError.api(status: response.status, error: message, requestID: requestID, call: call)
        error.retryAfter = RetryAfter.seconds(response.retryAfter)
        return error
    }

    /// Turns an exchange into the decoded body or the error it stands for.
    static func decode<Body: Decodable>(
        _ result: Result<TransportResponse, TransportFailure>,
        call: String
    ) throws(FaceSearchError) -> Body {
        let response: TransportResponse
        switch result {
        case .failure(.timeout): throw .timeout(call: call)
        case .failure(.connection(let reason)): throw .transport(reason, call: call)
        case .failure(.tls(let reason)): throw .tls(reason, call: call)
        case .failure(.proxy(let reason)): throw .proxy(reason, call: call)
        case .failure(.tooLarge(let status, let limit)):
            let size = limit % (1 << 20) == 0 ? "\(limit >> 20) MiB" : "\(limit) bytes"
            throw .malformedResponse(status: status, reason: "answer larger than \(size)", call: call)
        case .success(let answer): response = answer
        }
        do {
            return try self.decodeAnswer(response, call: call)
        } catch {
            var error = error
            error.retryAfter = RetryAfter.seconds(response.retryAfter)
            throw error
        }
    }

    private static func decodeAnswer<Body: Decodable>(
        _ response: TransportResponse,
        call: String
    ) throws(FaceSearchError) -> Body {
        let decoder = JSONDecoder()
        let errorBody = try? decoder.decode(ErrorBody.self, from: response.body)
        if let message = errorBody?.error {
            throw .api(status: response.status, error: message, requestID: errorBody?.request_id, call: call)
        }
        guard response.status == 200 else {
            if errorBody == nil, let text = String(data: response.body, encoding: .utf8), !text.isEmpty,
                response.body.first != UInt8(ascii: "{")
            {
                throw .plainText(status: response.status, text: text, call: call)
            }
            throw .malformedResponse(
                status: response.status,
                reason: "an error status without an error field",
                requestID: errorBody?.request_id,
                call: call
            )
        }
        do {
            return try decoder.decode(Body.self, from: response.body)
        } catch {
            throw .malformedResponse(
                status: response.status,
                reason: Self.describe(error, bytes: response.body.count),
                requestID: errorBody?.request_id,
                call: call
            )
        }
    }

    private static func describe(_ error: any Error, bytes: Int) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context):
            return "\(bytes) bytes, not valid JSON or a bad value: \(context.debugDescription)"
        case DecodingError.keyNotFound(let key, _):
            return "field \(key.stringValue) is missing"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return "field \(path) has an unexpected type"
        default:
            return "\(error)"
        }
    }
}
