public import Foundation
public import Transport

/// The S3 calls an export needs, signed with ``SignatureV4`` and sent through an `HTTPTransport`
/// (libcurl in production: the same proxies and trusted certificates as the API's calls).
///
/// Calls block their thread until the answer is read, as the API client's do on the stages'
/// workers. Every failure is an ``ObjectStorageError``: the store's own code and message when it
/// answered, the transport's plain words when it did not.
public final class ObjectStorageClient: Sendable {
    /// Where the bucket is and how it is addressed.
    public struct Configuration: Sendable {
        /// The store's root: `https://s3.eu-central-1.amazonaws.com`, `http://127.0.0.1:9000`.
        public var endpoint: URL
        /// The region requests are signed for. Default `us-east-1`.
        public var region = "us-east-1"
        /// The bucket.
        public var bucket: String
        /// Whether the bucket goes in the path (`endpoint/bucket/key`: MinIO, Ceph, local servers)
        /// rather than the host name (`bucket.endpoint/key`: AWS). Default false.
        public var pathStyle = false
        /// How calls the store fails for a while are tried again.
        public var retry = Retry()

        /// Creates a configuration with the defaults.
        public init(endpoint: URL, bucket: String) {
            self.endpoint = endpoint
            self.bucket = bucket
        }
    }

    /// How a call is tried again when the store cannot be reached, is busy (`SlowDown`, 503, 429),
    /// is full (a quota: Ceph's `QuotaExceeded`, MinIO's `XMinioStorageFull`, 507) or fails on its
    /// side (500, `InternalError`, `RequestTimeout`): after `baseDelay` seconds,
    /// doubling up to `maxDelay`, for as long as `tolerance` allows. Any other answer (a refused
    /// key, a missing bucket) is final at once.
    public struct Retry: Sendable {
        /// Seconds the store may keep failing one call before the call fails: an outage ridden
        /// out. Default 600, as the API's `outage_tolerance`.
        public var tolerance = 600.0
        /// Seconds before the first retry. Default 0.5.
        public var baseDelay = 0.5
        /// Longest wait between two tries. Default 20.
        public var maxDelay = 20.0

        /// The defaults.
        public init() {}

        /// Whether `error` is worth another try.
        public static func isTransient(_ error: ObjectStorageError) -> Bool {
            if error.status == 0 { return error.code == "Unreachable" }
            if [429, 500, 502, 503, 504, 507].contains(error.status) { return true }
            return [
                "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable", "TooManyRequests",
                "QuotaExceeded", "XMinioStorageFull", "XMinioAdminBucketQuotaExceeded",
            ].contains(error.code)
        }
    }

    /// An upload still open on the store.
    public struct PendingUpload: Sendable, Hashable {
        /// The object's key.
        public var key: String
        /// The store's id for the upload.
        public var uploadID: String

        /// Creates an upload's description.
        public init(key: String, uploadID: String) {
            self.key = key
            self.uploadID = uploadID
        }
    }

    private let configuration: Configuration
    private let credentials: @Sendable () throws(ObjectStorageError) -> SignatureV4.Credentials
    private let transport: any HTTPTransport
    private let now: @Sendable () -> Date
    private let sleep: @Sendable (Double) -> Void
    private let onRetry: @Sendable (_ error: ObjectStorageError, _ tries: Int, _ delay: Double) -> Void
    private let signer: SignatureV4

    /// Creates a client.
    ///
    /// - Parameters:
    ///   - configuration: The store and the bucket.
    ///   - credentials: The keys for each call (asked every call, so refreshed keys are used).
    ///   - transport: Carries the calls.
    ///   - now: The time requests are signed at and retries are measured by. Default the system clock.
    ///   - sleep: Waits between two tries of a call. Default the thread sleeps.
    ///   - onRetry: Told of a call that failed for a while, after how many tries, before the wait
    ///     of `delay` seconds; for a log. Default nothing.
    public init(
        configuration: Configuration,
        credentials: @escaping @Sendable () throws(ObjectStorageError) -> SignatureV4.Credentials,
        transport: any HTTPTransport,
        now: @escaping @Sendable () -> Date = { Date() },
        sleep: @escaping @Sendable (Double) -> Void = { Thread.sleep(forTimeInterval: $0) },
        onRetry: @escaping @Sendable (_ error: ObjectStorageError, _ tries: Int, _ delay: Double) -> Void = { _, _, _ in
        }
    ) {
        self.configuration = configuration
        self.credentials = credentials
        self.transport = transport
        self.now = now
        self.sleep = sleep
        self.onRetry = onRetry
        self.signer = SignatureV4(region: configuration.region)
    }

    /// The bucket the client's calls go to.
    public var bucket: String { self.configuration.bucket }

    /// Stores `body` under `key` in one `PUT`; with `ifNoneMatch`, only if no object has the key
    /// (the store answers `PreconditionFailed` otherwise). Returns the object's ETag.
    @discardableResult
    public func putObject(_ key: String, body: Data, ifNoneMatch: Bool = false) throws(ObjectStorageError) -> String {
        let answer = try self.call(
            "PUT",
            key: key,
            headers: ifNoneMatch ? self.onlyIfAbsent : [],
            body: body,
            operation: "PutObject"
        )
        return answer.headers["etag"] ?? ""
    }

    /// The headers that make a `PUT` create only: `If-None-Match: *`, and for Google Cloud Storage,
    /// whose XML API reads `If-None-Match` on reads only, `x-goog-if-generation-match: 0`.
    private var onlyIfAbsent: [(name: String, value: String)] {
        let host = self.configuration.endpoint.host?.lowercased() ?? ""
        let google = host == "storage.googleapis.com" || host.hasSuffix(".storage.googleapis.com")
        return [("If-None-Match", "*")] + (google ? [("x-goog-if-generation-match", "0")] : [])
    }

    /// The object under `key`: small ones (the transport's answer limit, 4 MiB by default).
    public func getObject(_ key: String) throws(ObjectStorageError) -> Data {
        try self.call("GET", key: key, operation: "GetObject").body
    }

    /// Bytes `range` of the object under `key`, in one ranged `GET` (keep it within the transport's
    /// answer limit).
    public func getObject(_ key: String, range: Range<Int>) throws(ObjectStorageError) -> Data {
        let answer = try self.call(
            "GET",
            key: key,
            headers: [("Range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)")],
            operation: "GetObject"
        )
        // A store that ignores the range sends the whole object.
        guard answer.status == 206 else {
            return answer.body.subdata(
                in: min(range.lowerBound, answer.body.count)..<min(range.upperBound, answer.body.count)
            )
        }
        return answer.body
    }

    /// The whole object under `key`, of any size, read in ranged `GET`s of `chunk` bytes; nil when
    /// there is none.
    public func getWholeObject(_ key: String, chunk: Int = 2 << 20) throws(ObjectStorageError) -> Data? {
        guard let size = try self.objectSize(key) else { return nil }
        var content = Data(capacity: size)
        while content.count < size {
            let piece = try self.getObject(key, range: content.count..<min(size, content.count + chunk))
            guard !piece.isEmpty else { break }
            content += piece
        }
        return content
    }

    /// The keys and sizes of the objects whose key starts with `prefix`, in key order
    /// (`ListObjectsV2`, page after page).
    public func listObjects(prefix: String) throws(ObjectStorageError) -> [(key: String, size: Int)] {
        var objects: [(key: String, size: Int)] = []
        var token: String?
        repeat {
            var query: [(name: String, value: String?)] = [("list-type", "2"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let answer = try self.call("GET", key: nil, query: query, operation: "ListObjectsV2")
            let keys = S3XML.values(of: "Key", in: answer.body)
            let sizes = S3XML.values(of: "Size", in: answer.body).map { Int($0) ?? 0 }
            objects += zip(keys, sizes).map { (key: $0, size: $1) }
            let truncated = S3XML.values(of: "IsTruncated", in: answer.body).first == "true"
            token = truncated ? S3XML.values(of: "NextContinuationToken", in: answer.body).first : nil
        } while token != nil
        return objects
    }

    /// The size of the object under `key`, read with a one-byte ranged `GET`; nil when there is none.
    public func objectSize(_ key: String) throws(ObjectStorageError) -> Int? {
        let answer: TransportResponse
        do {
            answer = try self.call("GET", key: key, headers: [("Range", "bytes=0-0")], operation: "GetObject")
        } catch  where error.code == "NoSuchKey" {
            return nil
        } catch  where error.code == "InvalidRange" {
            return 0  // an empty object has no first byte
        }
        // `Content-Range: bytes 0-0/SIZE`; a store that ignores the range sends the whole object.
        if let range = answer.headers["content-range"], let slash = range.lastIndex(of: "/"),
            let size = Int(range[range.index(after: slash)...])
        {
            return size
        }
        return answer.body.count
    }

    /// Removes the object under `key` (done also when there was none).
    public func deleteObject(_ key: String) throws(ObjectStorageError) {
        _ = try self.call("DELETE", key: key, operation: "DeleteObject")
    }

    /// Starts a multipart upload to `key`; returns its upload id.
    public func createMultipartUpload(_ key: String) throws(ObjectStorageError) -> String {
        let answer = try self.call("POST", key: key, query: [("uploads", nil)], operation: "CreateMultipartUpload")
        guard let uploadID = S3XML.values(of: "UploadId", in: answer.body).first, !uploadID.isEmpty else {
            throw ObjectStorageError(
                operation: "CreateMultipartUpload",
                location: self.location(key),
                status: answer.status,
                code: "MalformedAnswer",
                message: "the answer names no UploadId"
            )
        }
        return uploadID
    }

    /// Sends part `number` (1–10,000) of an upload; returns the part's ETag, which completing
    /// the upload names.
    public func uploadPart(
        _ key: String,
        uploadID: String,
        number: Int,
        body: Data
    ) throws(ObjectStorageError) -> String {
        let answer = try self.call(
            "PUT",
            key: key,
            query: [("partNumber", String(number)), ("uploadId", uploadID)],
            body: body,
            operation: "UploadPart"
        )
        guard let etag = answer.headers["etag"], !etag.isEmpty else {
            throw ObjectStorageError(
                operation: "UploadPart",
                location: self.location(key),
                status: answer.status,
                code: "MalformedAnswer",
                message: "the answer to part \(number) has no ETag"
            )
        }
        return etag
    }

    /// Makes the object from the parts, in order of their numbers: the object appears whole, at once.
    public func completeMultipartUpload(
        _ key: String,
        uploadID: String,
        parts: [(number: Int, etag: String)]
    ) throws(ObjectStorageError) {
        let list = parts.sorted { $0.number < $1.number }.map {
            "<Part><PartNumber>\($0.number)</PartNumber><ETag>\(S3XML.escaped($0.etag))</ETag></Part>"
        }
        let body = Data(("<CompleteMultipartUpload>" + list.joined() + "</CompleteMultipartUpload>").utf8)
        _ = try self.call(
            "POST",
            key: key,
            query: [("uploadId", uploadID)],
            body: body,
            operation: "CompleteMultipartUpload"
        )
    }

    /// Abandons an upload: its parts are deleted and stop being billed.
    public func abortMultipartUpload(_ key: String, uploadID: String) throws(ObjectStorageError) {
        _ = try self.call("DELETE", key: key, query: [("uploadId", uploadID)], operation: "AbortMultipartUpload")
    }

    /// The uploads open under `prefix`, page after page (a store lists a thousand at a time).
    public func listMultipartUploads(prefix: String) throws(ObjectStorageError) -> [PendingUpload] {
        var uploads: [PendingUpload] = []
        var marker: (key: String, uploadID: String)?
        while true {
            // No prefix at all for the whole bucket's: MinIO reads an empty one as a key.
            var query: [(name: String, value: String?)] =
                [("uploads", nil)] + (prefix.isEmpty ? [] : [("prefix", prefix)])
            if let marker {
                query += [("key-marker", marker.key), ("upload-id-marker", marker.uploadID)]
            }
            let answer = try self.call("GET", key: nil, query: query, operation: "ListMultipartUploads")
            // `<Key>` and `<UploadId>` are the uploads' own; the markers have tags of their own.
            let keys = S3XML.values(of: "Key", in: answer.body)
            let ids = S3XML.values(of: "UploadId", in: answer.body)
            uploads += zip(keys, ids).map { PendingUpload(key: $0, uploadID: $1) }
            guard S3XML.values(of: "IsTruncated", in: answer.body).first == "true",
                let key = S3XML.values(of: "NextKeyMarker", in: answer.body).first,
                let uploadID = S3XML.values(of: "NextUploadIdMarker", in: answer.body).first,
                marker.map({ $0.key != key || $0.uploadID != uploadID }) ?? true
            else { break }
            marker = (key, uploadID)
        }
        return uploads
    }

    /// Every upload open under `prefix`, on any store. MinIO lists a prefix's uploads only when the
    /// prefix is a whole key (a folder lists none) and the whole bucket's without one: when
    /// `prefix` lists none, the bucket's are listed and those under it kept.
    public func openUploads(under prefix: String) throws(ObjectStorageError) -> [PendingUpload] {
        let listed = try self.listMultipartUploads(prefix: prefix)
        guard listed.isEmpty, !prefix.isEmpty else { return listed }
        return try self.listMultipartUploads(prefix: "").filter { $0.key.hasPrefix(prefix) }
    }

    /// `s3://bucket/key`, for messages.
    private func location(_ key: String?) -> String {
        "s3://\(self.configuration.bucket)/\(key ?? "")"
    }

    /// Signs and sends one call, tried again while it fails for a while (``Retry``); an answer
    /// other than 2xx, or a `CompleteMultipartUpload` answered 200 with an `<Error>`, is thrown as
    /// the store's error.
    private func call(
        _ method: String,
        key: String?,
        query: [(name: String, value: String?)] = [],
        headers: [(name: String, value: String)] = [],
        body: Data = Data(),
        operation: String
    ) throws(ObjectStorageError) -> TransportResponse {
        let retry = self.configuration.retry
        let started = self.now()
        var delay = retry.baseDelay
        var tries = 1
        while true {
            do {
                return try self.attempt(
                    method,
                    key: key,
                    query: query,
                    headers: headers,
                    body: body,
                    operation: operation
                )
            } catch  where Retry.isTransient(error) {
                let waited = self.now().timeIntervalSince(started)
                guard waited + delay <= retry.tolerance else {
                    var final = error
                    if tries > 1 { final.message += " (\(tries) tries over \(Int(waited.rounded())) s)" }
                    throw final
                }
                self.onRetry(error, tries, delay)
                self.sleep(delay)
                delay = min(delay * 2, retry.maxDelay)
                tries += 1
            }
        }
    }

    /// Signs and sends one call, once.
    private func attempt(
        _ method: String,
        key: String?,
        query: [(name: String, value: String?)],
        headers: [(name: String, value: String)],
        body: Data,
        operation: String
    ) throws(ObjectStorageError) -> TransportResponse {
        let endpoint = self.configuration.endpoint
        let scheme = endpoint.scheme ?? "https"
        let port = endpoint.port.map { ":\($0)" } ?? ""
        let host = (self.configuration.pathStyle ? "" : self.configuration.bucket + ".") + (endpoint.host ?? "") + port
        let root = endpoint.path.hasSuffix("/") ? String(endpoint.path.dropLast()) : endpoint.path
        let path =
            root + (self.configuration.pathStyle ? "/" + self.configuration.bucket : "") + "/" + (key ?? "")
        let request = SignatureV4.Request(
            method: method,
            path: path,
            query: query,
            headers: [("Host", host)] + headers,
            payloadHash: SignatureV4.sha256Hex(body)
        )
        let signed = self.signer.sign(request, credentials: try self.credentials(), date: self.now())
        guard let url = URL(string: "\(scheme)://\(host)\(signed.target)") else {
            throw ObjectStorageError(
                operation: operation,
                location: self.location(key),
                status: 0,
                code: "InvalidURL",
                message: "\(scheme)://\(host)\(signed.target) is not a URL"
            )
        }
        let exchange = TransportRequest(
            method: method,
            url: url,
            headers: headers + signed.headers,
            body: body
        )
        let result = self.transport.sendAndWait(exchange)
        switch result {
        case .failure(let failure):
            throw ObjectStorageError(
                operation: operation,
                location: self.location(key),
                status: 0,
                code: failure.storageCode,
                message: failure.description
            )
        case .success(let answer):
            // Only CompleteMultipartUpload may answer 200 with an error (its answer starts before
            // the parts are joined); any other 200's body is the object's, whatever it holds.
            let failedLate =
                operation == "CompleteMultipartUpload" && S3XML.values(of: "Error", in: answer.body).count == 1
            guard (200..<300).contains(answer.status), !failedLate else {
                throw ObjectStorageError(
                    operation: operation,
                    location: self.location(key),
                    status: answer.status,
                    code: S3XML.values(of: "Code", in: answer.body).first ?? "HTTP\(answer.status)",
                    message: S3XML.values(of: "Message", in: answer.body).first ?? "",
                    bucketRegion: answer.headers["x-amz-bucket-region"]
                        ?? S3XML.values(of: "Region", in: answer.body).first
                )
            }
            return answer
        }
    }
}

extension TransportFailure {
    /// The code a call that got no answer fails with: `Unreachable` for a store that does not answer
    /// (worth waiting for, ``ObjectStorageClient/Retry``), others for a certificate or a proxy that
    /// refuses, which will not change their minds.
    var storageCode: String {
        switch self {
        case .timeout, .connection: "Unreachable"
        case .tls: "TLSFailure"
        case .proxy: "ProxyRefused"
        case .tooLarge: "AnswerTooLarge"
        }
    }
}

/// A call that fails in object storage, in one plain line with the store's own code.
public struct ObjectStorageError: Error, CustomStringConvertible, Sendable {
    /// The S3 operation (`UploadPart`).
    public var operation: String
    /// `s3://bucket/key`.
    public var location: String
    /// The HTTP status; 0 when the store did not answer.
    public var status: Int
    /// The store's code (`AccessDenied`, `NoSuchBucket`, `SignatureDoesNotMatch`, `SlowDown`);
    /// `Unreachable` when it did not answer, `AnswerTooLarge` past the transport's limit.
    public var code: String
    /// The store's message, or the transport's.
    public var message: String
    /// The region the store says the bucket is in (`x-amz-bucket-region`, or the error's
    /// `<Region>`), when it names one: AWS does when the request went to, or was signed for,
    /// another region.
    public var bucketRegion: String? = nil

    /// Whether the store refused the call because it went to, or was signed for, another region
    /// than the bucket's.
    public var isWrongRegion: Bool {
        ["PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException"].contains(self.code)
            && self.bucketRegion != nil
    }

    public var description: String {
        let status = self.status == 0 ? "" : " (HTTP \(self.status))"
        let message = self.message.isEmpty ? "" : ": \(self.message)"
        let region = self.isWrongRegion ? " (the bucket is in \(self.bucketRegion ?? ""))" : ""
        return "object storage: \(self.operation) \(self.location) failed with \(self.code)\(status)\(message)\(region)"
    }
}

/// The few elements faceexport reads from S3's XML answers, found by name: values of `<Tag>` in
/// document order, entities decoded.
enum S3XML {
    static func values(of tag: String, in body: Data) -> [String] {
        let text = String(decoding: body, as: UTF8.self)
        var values: [String] = []
        var rest = text[...]
        while let open = rest.range(of: "<\(tag)>") {
            guard let close = rest[open.upperBound...].range(of: "</\(tag)>") else { break }
            values.append(Self.unescaped(String(rest[open.upperBound..<close.lowerBound])))
            rest = rest[close.upperBound...]
        }
        return values
    }

    /// `text` with `&`, `<` and `>` escaped, for an element's content.
    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    /// The five named entities and numeric character references decoded.
    static func unescaped(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var output = ""
        var rest = text[...]
        while let amp = rest.firstIndex(of: "&") {
            output += rest[..<amp]
            guard let semicolon = rest[amp...].firstIndex(of: ";") else { break }
            let entity = rest[rest.index(after: amp)..<semicolon]
            switch entity {
            case "amp": output += "&"
            case "lt": output += "<"
            case "gt": output += ">"
            case "quot": output += "\""
            case "apos": output += "'"
            default:
                let number =
                    entity.hasPrefix("#x")
                    ? UInt32(entity.dropFirst(2), radix: 16)
                    : entity.hasPrefix("#") ? UInt32(entity.dropFirst()) : nil
                if let number, let scalar = Unicode.Scalar(number) {
                    output.unicodeScalars.append(scalar)
                } else {
                    output += rest[amp...semicolon]
                }
            }
            rest = rest[rest.index(after: semicolon)...]
        }
        return output + rest
    }
}
