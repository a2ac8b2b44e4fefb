import FaceSearchSimulation
import MultipartKit
import NIOCore

/// Reads the text fields of a `multipart/form-data` body through MultipartKit's parser.
enum FormFields {
    /// The fields of `body`, or nil when the content type is not multipart or the body does not parse.
    static func parse(contentType: String?, body: ByteBuffer) -> [String: String]? {
        guard let contentType, contentType.lowercased().hasPrefix("multipart/form-data"),
            let boundary = Self.boundary(in: contentType)
        else { return nil }
        let parser = MultipartParser(boundary: boundary)
        var fields: [String: String] = [:]
        var name: String?
        var value = ByteBuffer()
        parser.onHeader = { header, headerValue in
            if header.lowercased() == "content-disposition" { name = Self.parameter("name", in: headerValue) }
        }
        parser.onBody = { chunk in value.writeBuffer(&chunk) }
        parser.onPartComplete = {
            if let name { fields[name] = String(buffer: value) }
            name = nil
            value.clear()
        }
        do {
            try parser.execute(body)
        } catch {
            return nil
        }
        return fields
    }

    private static func boundary(in contentType: String) -> String? {
        self.parameter("boundary", in: contentType)
    }

    /// The value of `key=` in a header such as `form-data; name="group_id"`.
    private static func parameter(_ key: String, in header: String) -> String? {
        for part in header.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == key else { continue }
            var value = pair[1].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                value = String(value.dropFirst().dropLast())
            }
            return value.isEmpty ? nil : value
        }
        return nil
    }
}
