import Foundation

/// A `multipart/form-data` body of text fields, as every FaceSearch call sends.
struct MultipartFormBody {
    /// The boundary, random per body so that no field value can contain it by chance.
    let boundary: String
    private(set) var data = Data()

    init(boundary: String = "faceexport-" + UUID().uuidString) {
        self.boundary = boundary
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
