/// An API key and its secret; the secret never appears in a description, log line or error.
public struct FaceSearchCredentials: Sendable, CustomStringConvertible {
    /// The account's API key (`a=` in the signature).
    public var apiKey: String
    /// The account's API secret, the HMAC key.
    public var apiSecret: String

    /// Creates credentials from a key and its secret.
    public init(apiKey: String, apiSecret: String) {
        self.apiKey = apiKey
        self.apiSecret = apiSecret
    }

    public var description: String { "FaceSearchCredentials(apiKey: \(self.apiKey), apiSecret: <redacted>)" }
}
