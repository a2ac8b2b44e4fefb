import Foundation

/// A `multipart/form-data` body of text fields, as every FaceSearch call sends.
struct MultipartFormBody {
    /// The boundary, random per body so that no field value can contain it by chance.
    let boundary: String
    private(set) var data = Data()

    init(boundary: String = Self.randomBoundary()) {
        self.boundary = boundary
    }

    /// `faceexport-` and 32 random hex digits. From the system's generator (`getrandom`), not
    /// `UUID()`, which opens `/dev/urandom` for every call: 1.6% of an export's CPU, a call per request.
    static func randomBoundary() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next()
        let low = generator.next()
        return "faceexport-" + Self.hex16(high) + Self.hex16(low)
    }

    private static func hex16(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// The value of the request's `Content-Type` header.
    var contentType: String { "multipart/form-data; boundary=\(self.boundary)" }

    mutating func append(name: String, value: String) {
        self.data.append(contentsOf: Array("--\(self.boundary)\r\n".utf8))
        self.data.append(contentsOf: Array("Content-Disposition: form-data; name=\"\(name)\"\r\n\r\n".utf8))
        self.data.append(contentsOf: Array(value.utf8))
        self.data.append(contentsOf: Array("\r\n".utf8))
    }

    /// The body with its closing delimiter.
    func finished() -> Data {
        var body = self.data
        body.append(contentsOf: Array("--\(self.boundary)--\r\n".utf8))
        return body
    }
}
