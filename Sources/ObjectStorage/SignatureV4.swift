import FaceExportCrypto
public import Foundation

/// AWS Signature Version 4 for requests to S3-compatible storage (the `Authorization` header).
///
/// Written from AWS's description of the signing process and proven against its published test
/// suite and botocore's signer. Paths are encoded once and never normalised, as S3 wants: an
/// object key's `=` (our `dt=` partitions) is `%3D` in both the canonical request and the URL the
/// request goes to, so the two always agree.
///
/// Not libcurl's `CURLOPT_AWS_SIGV4`: Debian 12's curl 7.88.1, signing requests to a loopback
/// listener, disagreed with botocore on `POST …?uploads` and on `PUT …?uploadId=abc&partNumber=1`
/// (it neither completes a valueless parameter nor sorts the query), both of which a multipart
/// upload needs; it agreed on paths, signing them as sent.
public struct SignatureV4: Sendable {
    /// Keys that sign requests: an access key, its secret, and a session token for temporary ones.
    public struct Credentials: Sendable, Hashable {
        /// The access key id, the `Credential=` of every request.
        public var accessKeyID: String
        /// The secret access key; never logged, never sent.
        public var secretAccessKey: String
        /// The session token of temporary credentials (STS), sent as `X-Amz-Security-Token`.
        public var sessionToken: String?

        /// Creates credentials.
        public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
            self.accessKeyID = accessKeyID
            self.secretAccessKey = secretAccessKey
            self.sessionToken = sessionToken
        }
    }

    /// A request to sign: what the canonical request is made of.
    public struct Request: Sendable {
        /// The method, upper case.
        public var method: String
        /// The path, not encoded (`/bucket/dt=2026-12-06/faces.parquet`).
        public var path: String
        /// Query parameters in any order, not encoded; a nil value is a parameter without `=`
        /// (`?uploads`), signed as an empty value.
        public var query: [(name: String, value: String?)]
        /// Headers to sign besides those the signer adds (`host` must be among them).
        public var headers: [(name: String, value: String)]
        /// The hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
        public var payloadHash: String

        /// Creates a request.
        public init(
            method: String,
            path: String,
            query: [(name: String, value: String?)] = [],
            headers: [(name: String, value: String)],
            payloadHash: String
        ) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.payloadHash = payloadHash
        }
    }

    /// What signing a request gives: the headers to send with it, and the path and query to send
    /// it to, encoded exactly as they were signed.
    public struct Signed: Sendable {
        /// `Authorization`, `X-Amz-Date`, and for S3 `X-Amz-Content-SHA256`, and the session token.
        public var headers: [(name: String, value: String)]
        /// The encoded path and query (`/bucket/dt%3D2026-12-06/faces.parquet?partNumber=1&uploadId=…`).
        public var target: String
        /// The canonical request, for tests and for a `SignatureDoesNotMatch` to be compared with.
        public var canonicalRequest: String
        /// The string to sign.
        public var stringToSign: String
    }

    /// The region (`us-east-1`; most S3-compatible stores accept any).
    public var region: String
    /// The service (`s3`, `sts`).
    public var service: String

    /// Creates a signer for `service` in `region`.
    public init(region: String, service: String = "s3") {
        self.region = region
        self.service = service
    }

    /// The hex SHA-256 of nothing: the payload hash of a request without a body.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// Signs `request` with `credentials` at `date`.
    public func sign(_ request: Request, credentials: Credentials, date: Date) -> Signed {
        let stamp = Self.timestamp(date)
        var added: [(name: String, value: String)] = [("X-Amz-Date", stamp)]
        if self.service == "s3" { added.append(("X-Amz-Content-SHA256", request.payloadHash)) }
        if let token = credentials.sessionToken { added.append(("X-Amz-Security-Token", token)) }
        let headers = Self.canonicalHeaders(request.headers + added)
        let signedHeaders = headers.map(\.name).joined(separator: ";")
        let path = Self.encode(request.path, keepingSlashes: true)
        let query = Self.canonicalQuery(request.query)
        let canonicalRequest = [
            request.method,
            path,
            query,
            headers.map { "\($0.name):\($0.value)\n" }.joined(),
            signedHeaders,
            request.payloadHash,
        ].joined(separator: "\n")
        let day = String(stamp.prefix(8))
        let scope = "\(day)/\(self.region)/\(self.service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", stamp, scope, Self.sha256Hex(Array(canonicalRequest.utf8))]
            .joined(separator: "\n")
        let key = self.signingKey(secret: credentials.secretAccessKey, day: day)
        let signature = Hex.encode(HMAC.sha256(key: key, message: Array(stringToSign.utf8)))
        let authorization =
            "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)"
        return Signed(
            headers: [("Authorization", authorization)] + added,
            target: query.isEmpty ? path : path + "?" + query,
            canonicalRequest: canonicalRequest,
            stringToSign: stringToSign
        )
    }

    /// The key for `day`: HMAC-SHA256 chained from `AWS4` + the secret through the day, the
    /// region, the service and `aws4_request`.
    func signingKey(secret: String, day: String) -> [UInt8] {
        [day, self.region, self.service, "aws4_request"].reduce(Array(("AWS4" + secret).utf8)) { key, part in
            HMAC.sha256(key: key, message: Array(part.utf8))
        }
    }

    /// `YYYYMMDD'T'HHMMSS'Z'` in UTC.
    static func timestamp(_ date: Date) -> String {
        var time = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(
            format: "%04d%02d%02dT%02d%02d%02dZ",
            parts.tm_year + 1900,
            parts.tm_mon + 1,
            parts.tm_mday,
            parts.tm_hour,
            parts.tm_min,
            parts.tm_sec
        )
    }

    /// Lower-case names, sorted; values trimmed with inner runs of spaces made one, and the
    /// values of a repeated name joined with commas in their order.
    static func canonicalHeaders(_ headers: [(name: String, value: String)]) -> [(name: String, value: String)] {
        var values: [String: [String]] = [:]
        for (name, value) in headers {
            let trimmed = value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            values[name.lowercased(), default: []].append(trimmed)
        }
        return values.keys.sorted().map { ($0, values[$0]!.joined(separator: ",")) }
    }

    /// Names and values encoded, sorted by name and then value, as `name=value` joined by `&`.
    static func canonicalQuery(_ query: [(name: String, value: String?)]) -> String {
        let encoded: [(name: String, value: String)] = query.map { parameter in
            (
                Self.encode(parameter.name, keepingSlashes: false),
                Self.encode(parameter.value ?? "", keepingSlashes: false)
            )
        }
        let sorted = encoded.sorted { $0.name == $1.name ? $0.value < $1.value : $0.name < $1.name }
        return sorted.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
    }

    /// `text`'s UTF-8 bytes with every byte but `A-Z a-z 0-9 - . _ ~` (and `/` if kept) as `%XX`.
    static func encode(_ text: String, keepingSlashes: Bool) -> String {
        var encoded = ""
        encoded.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if Self.unreserved[Int(byte)] || (keepingSlashes && byte == UInt8(ascii: "/")) {
                encoded.unicodeScalars.append(UnicodeScalar(byte))
            } else {
                encoded += String(format: "%%%02X", byte)
            }
        }
        return encoded
    }

    /// Whether a byte stands for itself in a URI: `A-Z a-z 0-9 - . _ ~`.
    private static let unreserved: [Bool] = (0..<256).map { byte in
        let character = Character(UnicodeScalar(UInt8(byte)))
        return (character.isASCII && (character.isLetter || character.isNumber)) || "-._~".contains(character)
    }

    /// The hex SHA-256 of `bytes` (a part's body is hashed where it lies, not copied).
    public static func sha256Hex(_ bytes: some ContiguousBytes) -> String {
        var digest = SHA256Digest()
        bytes.withUnsafeBytes { digest.update($0) }
        return digest.hexDigest()
    }
}
