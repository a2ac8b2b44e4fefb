import Foundation

/// One face of a library, as `list` returns it.
public struct Face: Sendable, Hashable {
    /// The face's unique token.
    public var faceToken: String
    /// The opaque user id; empty when the API sent none.
    public var userID: String
    /// The opaque user data; empty when the API sent none.
    public var userData: String
    /// When the face was added, in Unix milliseconds.
    public var addTime: Int64

    /// Creates a face.
    public init(faceToken: String, userID: String, userData: String, addTime: Int64) {
        self.faceToken = faceToken
        self.userID = userID
        self.userData = userData
        self.addTime = addTime
    }
}

/// One answer of `list`.
public struct FacePage: Sendable, Hashable {
    /// The faces, in creation order.
    public var faces: [Face]
    /// The `next` start the server offered, if it sent one (the documents mention it, never show it).
    public var next: Int?
    /// The answer's `request_id`.
    public var requestID: String?

    /// Creates a page.
    public init(faces: [Face], next: Int? = nil, requestID: String? = nil) {
        self.faces = faces
        self.next = next
        self.requestID = requestID
    }
}

/// A face library as `group_list` describes it.
public struct GroupInfo: Sendable, Hashable {
    /// The library's id.
    public var groupID: String
    /// Its display name.
    public var groupName: String
    /// Its free-form data.
    public var groupData: String
    /// The face model version the library uses.
    public var modelVersion: String
    /// When it was created, in Unix milliseconds, if the API said.
    public var addTime: Int64?
}

/// `add_time` as any of the three forms the documents show: a JSON number of milliseconds, a numeric
/// string of milliseconds, or an ISO-8601 string with an offset.
struct FlexibleTimestamp: Decodable {
    let milliseconds: Int64

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let integer = try? container.decode(Int64.self) {
            self.milliseconds = integer
        } else if let double = try? container.decode(Double.self), double.isFinite {
            self.milliseconds = Int64(double.rounded())
        } else {
            let text = try container.decode(String.self).trimmingCharacters(in: .whitespaces)
            if let integer = Int64(text) {
                self.milliseconds = integer
            } else if let double = Double(text), double.isFinite, text.allSatisfy({ $0.isNumber || $0 == "." }) {
                self.milliseconds = Int64(double.rounded())
            } else if let parsed = Timestamp.parseISO8601(text) {
                self.milliseconds = parsed
            } else {
                throw DecodingError.dataCorruptedError(
                    in: container,
                    debugDescription: "add_time '\(text.prefix(40))' is neither milliseconds nor ISO-8601"
                )
            }
        }
    }
}

/// `next` as a number or a numeric string; anything else is ignored.
struct FlexibleInteger: Decodable {
    let value: Int?

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let integer = try? container.decode(Int.self) {
            self.value = integer
        } else if let text = try? container.decode(String.self) {
            self.value = Int(text.trimmingCharacters(in: .whitespaces))
        } else {
            self.value = nil
        }
    }
}

struct FaceBody: Decodable {
    let face_token: String
    let user_id: String?
    let user_data: String?
    let add_time: FlexibleTimestamp
}

struct ListBody: Decodable {
    let request_id: String?
    let face_tokens: [FaceBody]
    let next: FlexibleInteger?
}

struct SizeBody: Decodable {
    let request_id: String?
    let face_count: FlexibleInteger
}

struct GroupInfoBody: Decodable {
    let group_id: String
    let group_name: String?
    let group_data: String?
    let model_version: String?
    let add_time: FlexibleTimestamp?
}

struct GroupListBody: Decodable {
    let request_id: String?
    let group_infos: [GroupInfoBody]
}

/// The fields every error answer may carry.
struct ErrorBody: Decodable {
    let error: String?
    let request_id: String?
}

extension FacePage {
    init(_ body: ListBody) {
        self.faces = body.face_tokens.map {
            Face(
                faceToken: $0.face_token,
                userID: $0.user_id ?? "",
                userData: $0.user_data ?? "",
                addTime: $0.add_time.milliseconds
            )
        }
        self.next = body.next?.value
        self.requestID = body.request_id
    }
}

extension GroupInfo {
    init(_ body: GroupInfoBody) {
        self.groupID = body.group_id
        self.groupName = body.group_name ?? ""
        self.groupData = body.group_data ?? ""
        self.modelVersion = body.model_version ?? ""
        self.addTime = body.add_time?.milliseconds
    }
}
