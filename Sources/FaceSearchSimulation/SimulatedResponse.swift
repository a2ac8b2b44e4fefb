public import Foundation

/// One answer of the simulator: status, content type and body.
public struct SimulatedResponse: Sendable {
    /// The HTTP status.
    public var status: Int
    /// The `Content-Type` header.
    public var contentType: String
    /// The body bytes.
    public var body: Data
    /// A fault the HTTP layer should commit instead of answering cleanly.
    public var connectionFault: ConnectionFault?
    /// Seconds to send as `Retry-After`, if any.
    public var retryAfter: Int?
    /// The API error code of an error answer (the text before `:`), for the simulator's counters.
    var errorCode: String?

    /// Faults only the connection can show.
    public enum ConnectionFault: String, Sendable {
        /// Reset the connection instead of answering.
        case reset
        /// Send the full `Content-Length` but half the body, then close.
        case truncate
        /// Send a chunked body that never ends.
        case endless
    }

    /// Creates an answer.
    public init(status: Int, contentType: String, body: Data, connectionFault: ConnectionFault? = nil) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.connectionFault = connectionFault
    }
}

/// The JSON shapes the simulator answers with.
enum Wire {
    struct Face: Encodable {
        let face: SimulatedFace
        let addTimeStyle: SimulatorConfiguration.AddTimeStyle
        let position: Int

        enum Keys: String, CodingKey { case face_token, user_id, user_data, add_time, quality }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: Keys.self)
            try container.encode(self.face.faceToken, forKey: .face_token)
            try container.encode(self.face.userID, forKey: .user_id)
            try container.encode(self.face.userData, forKey: .user_data)
            switch (self.addTimeStyle, self.position % 3) {
            case (.number, _), (.mixed, 0):
                try container.encode(self.face.addTime, forKey: .add_time)
            case (.string, _), (.mixed, 1):
                try container.encode(String(self.face.addTime), forKey: .add_time)
            case (.mixed, _):
                try container.encode(iso8601(self.face.addTime, offsetHours: 8), forKey: .add_time)
            }
            // Unknown fields may appear: a mixed server adds one the documents never mention.
            if self.addTimeStyle == .mixed { try container.encode(0.5, forKey: .quality) }
        }
    }

    struct List: Encodable {
        let request_id: String
        let time_used: Int
        let face_tokens: [Face]
        let next: String?
    }

    struct Size: Encodable {
        let request_id: String
        let time_used: Int
        let group_id: String
        let face_count: Int
    }

    struct GroupInfo: Encodable {
        let group_id: String
        let group_name: String
        let group_data: String
        let model_version: String
        let add_time: String
    }

    struct GroupList: Encodable {
        let request_id: String
        let time_used: Int
        let group_infos: [GroupInfo]
    }

    struct GroupInfoAnswer: Encodable {
        let request_id: String
        let time_used: Int
        let info: GroupInfo
    }

    struct FaceInfo: Encodable {
        let face_token: String
        let user_id: String
        let user_data: String
        let add_time: Int64
    }

    struct FaceInfoAnswer: Encodable {
        let request_id: String
        let time_used: Int
        let info: FaceInfo
    }

    struct Failure: Encodable {
        let request_id: String?
        let time_used: Int?
        let error: String
    }
}

/// Formats Unix milliseconds as ISO-8601 with a fixed offset, e.g. `2026-01-27T14:19:01.208+08:00`.
func iso8601(_ milliseconds: Int64, offsetHours: Int) -> String {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = TimeZone(secondsFromGMT: offsetHours * 3600)!
    let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
    let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
    let millis = Int(((milliseconds % 1000) + 1000) % 1000)
    func pad(_ value: Int?, _ width: Int) -> String {
        let text = String(value ?? 0)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }
    let sign = offsetHours >= 0 ? "+" : "-"
    return
        "\(pad(parts.year, 4))-\(pad(parts.month, 2))-\(pad(parts.day, 2))T\(pad(parts.hour, 2)):\(pad(parts.minute, 2)):"
        + "\(pad(parts.second, 2)).\(pad(millis, 3))\(sign)\(pad(abs(offsetHours), 2)):00"
}
