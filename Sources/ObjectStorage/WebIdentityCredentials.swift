public import Foundation
import Synchronization
public import Transport

/// Temporary keys for a web identity, as EKS service accounts give one: the token in a file is
/// exchanged with STS (`AssumeRoleWithWebIdentity`, a call that is not signed) for keys of the
/// role, and exchanged again, the file re-read, when they are within ``refreshMargin`` of their
/// expiry, so that a long run never signs with expired keys.
public final class WebIdentityCredentials: Sendable {
    /// The role, the token's file and the session's name, as ``CredentialSource`` found them.
    public let roleARN: String
    public let tokenFile: String
    public let sessionName: String
    /// STS's endpoint: `https://sts.<region>.amazonaws.com`, or `AWS_ENDPOINT_URL_STS`.
    public let endpoint: URL
    /// Seconds before expiry at which the keys are exchanged again. Default 300.
    public let refreshMargin: Double
    private let transport: any HTTPTransport
    private let now: @Sendable () -> Date
    private let cached = Mutex<(credentials: SignatureV4.Credentials, expiry: Date)?>(nil)

    /// Creates a source of keys; nothing is called before ``current()``.
    public init(
        roleARN: String,
        tokenFile: String,
        sessionName: String,
        endpoint: URL,
        transport: any HTTPTransport,
        refreshMargin: Double = 300,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.roleARN = roleARN
        self.tokenFile = tokenFile
        self.sessionName = sessionName
        self.endpoint = endpoint
        self.transport = transport
        self.refreshMargin = refreshMargin
        self.now = now
    }

    /// STS's endpoint for `region`, or the one `AWS_ENDPOINT_URL_STS` names, as the AWS tools choose it.
    public static func endpoint(region: String, environment: [String: String]) -> URL? {
        if let named = environment["AWS_ENDPOINT_URL_STS"], !named.isEmpty { return URL(string: named) }
        return URL(string: "https://sts.\(region).amazonaws.com")
    }

    /// Keys good for at least ``refreshMargin`` more seconds, exchanged for the token when needed.
    public func current() throws(ObjectStorageError) -> SignatureV4.Credentials {
        if let cached = self.cached.withLock({ $0 }), cached.expiry.timeIntervalSince(self.now()) > self.refreshMargin {
            return cached.credentials
        }
        let fresh = try self.exchange()
        self.cached.withLock { $0 = fresh }
        return fresh.credentials
    }

    /// One `AssumeRoleWithWebIdentity` call.
    private func exchange() throws(ObjectStorageError) -> (credentials: SignatureV4.Credentials, expiry: Date) {
        func failure(_ status: Int, _ code: String, _ message: String) -> ObjectStorageError {
            ObjectStorageError(
                operation: "AssumeRoleWithWebIdentity",
                location: self.roleARN,
                status: status,
                code: code,
                message: message
            )
        }
        guard let token = try? String(contentsOfFile: self.tokenFile, encoding: .utf8), !token.isEmpty else {
            throw failure(0, "TokenUnreadable", "cannot read the web identity token \(self.tokenFile)")
        }
        let fields = [
            ("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"), ("RoleArn", self.roleARN),
            ("RoleSessionName", self.sessionName),
            ("WebIdentityToken", token.trimmingCharacters(in: .whitespacesAndNewlines)),
        ]
        let body = fields.map {
            SignatureV4.encode($0, keepingSlashes: false) + "=" + SignatureV4.encode($1, keepingSlashes: false)
        }.joined(separator: "&")
        let request = TransportRequest(
            method: "POST",
            url: self.endpoint,
            headers: [("Content-Type", "application/x-www-form-urlencoded")],
            body: Data(body.utf8)
        )
        switch self.transport.sendAndWait(request) {
        case .failure(let problem):
            throw failure(0, problem.storageCode, "STS at \(self.endpoint.absoluteString): \(problem)")
        case .success(let answer):
            guard (200..<300).contains(answer.status) else {
                throw failure(
                    answer.status,
                    S3XML.values(of: "Code", in: answer.body).first ?? "HTTP\(answer.status)",
                    S3XML.values(of: "Message", in: answer.body).first ?? ""
                )
            }
            guard let key = S3XML.values(of: "AccessKeyId", in: answer.body).first,
                let secret = S3XML.values(of: "SecretAccessKey", in: answer.body).first,
                let session = S3XML.values(of: "SessionToken", in: answer.body).first,
                let expiration = S3XML.values(of: "Expiration", in: answer.body).first,
                let expiry = Self.date(expiration)
            else { throw failure(answer.status, "MalformedAnswer", "STS's answer holds no whole set of keys") }
            return (SignatureV4.Credentials(accessKeyID: key, secretAccessKey: secret, sessionToken: session), expiry)
        }
    }

    /// An ISO 8601 time as STS writes it, with or without fractions of a second.
    static func date(_ text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        if let date = plain.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }
}
