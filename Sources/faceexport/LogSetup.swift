import Foundation
import Logging

/// The executable's logging: human-readable lines on a terminal, one JSON object per line otherwise.
enum LogSetup {
    enum Format: String {
        case auto, text, json
    }

    static func bootstrap(level: Logger.Level, format: Format) -> Logger {
        let json = format == .json || (format == .auto && isatty(STDERR_FILENO) == 0)
        LoggingSystem.bootstrap { label in
            if json {
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "faceexport")
        logger.logLevel = level
        return logger
    }
}

/// One JSON object per line on standard error: `time`, `level`, `label`, `message`, then the metadata.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.metadata[key] }
        set { self.metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields: [String: String] = [:]
        for (key, value) in self.metadata { fields[key] = "\(value)" }
        for (key, value) in event.metadata ?? [:] { fields[key] = "\(value)" }
        let milliseconds = Int64((Date().timeIntervalSince1970 * 1000).rounded())
        var line =
            "{\"time\":\(Self.quoted(Self.timestamp(milliseconds))),\"level\":\(Self.quoted(event.level.rawValue))"
        line += ",\"label\":\(Self.quoted(self.label)),\"message\":\(Self.quoted("\(event.message)"))"
        for key in fields.keys.sorted() { line += ",\(Self.quoted(key)):\(Self.quoted(fields[key]!))" }
        line += "}\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    private static func timestamp(_ milliseconds: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    /// A JSON string literal (RFC 8259 escaping).
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20: result += String(format: "\\u%04x", scalar.value)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
