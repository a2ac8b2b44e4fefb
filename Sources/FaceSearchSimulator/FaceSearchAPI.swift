public import Foundation
import Synchronization

/// The FaceSearch API's behaviour, without HTTP: validates a call's fields, checks its signature,
/// and answers from the dataset with the statuses and error strings of the spec.
public final class FaceSearchAPI: Sendable {
    private let configuration: SimulatorConfiguration
    private let verifier: SignatureVerifier
    private let groups: Mutex<[String: SimulatedGroup]>
    private let groupOrder: [String]
    private let statistics = Mutex(SimulatorStatistics())
    private let wallClock: @Sendable () -> Int64

    /// Creates the API over `dataset`; `wallClock` gives Unix seconds (injectable for tests).
    public init(
        configuration: SimulatorConfiguration,
        dataset: Dataset,
        wallClock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) {
        self.configuration = configuration
        self.verifier = SignatureVerifier(secrets: configuration.credentials)
        self.groups = Mutex(
            Dictionary(dataset.groups.map { ($0.groupID, $0) }, uniquingKeysWith: { first, _ in first })
        )
        self.groupOrder = dataset.groups.map(\.groupID)
        self.wallClock = wallClock
    }

    /// What the simulator has done so far.
    public var counts: SimulatorStatistics { self.statistics.withLock { $0 } }

    /// Answers one call, e.g. `list`, given its form fields.
    public func respond(call: String, fields: [String: String]) -> SimulatedResponse {
        let started = DispatchTime.now()
        self.statistics.withLock {
            $0.requests += 1
            $0.requestsByCall[call, default: 0] += 1
        }
        let now = self.wallClock() + self.configuration.clockOffset
        let requestID = "\(now),\(UUID().uuidString.lowercased())"
        let answer = Answer(requestID: requestID, started: started)
        let response: SimulatedResponse
        switch call {
        case "list", "get_size", "group_list", "face_info", "group_info":
            response = self.authenticated(call: call, fields: fields, now: now, answer: answer)
        default:
            // Unknown paths answer without request_id, as the vendor's 404 bodies do.
            response = answer.failure(404, "API_NOT_FOUND", withRequestID: false)
        }
        if response.status != 200 {
            self.statistics.withLock { $0.errorsByCode[Self.code(of: response), default: 0] += 1 }
        }
        return response
    }

    /// The answer to a body larger than ``SimulatorConfiguration/maxBodyBytes``: plain text, as the vendor's 413.
    public func bodyTooLarge() -> SimulatedResponse {
        self.statistics.withLock {
            $0.requests += 1
            $0.errorsByCode["413", default: 0] += 1
        }
        return SimulatedResponse(status: 413, contentType: "text/plain", body: Data("Request Entity Too Large".utf8))
    }

    private func authenticated(call: String, fields: [String: String], now: Int64, answer: Answer) -> SimulatedResponse
    {
        guard let sign = fields["sign"] else { return answer.failure(400, "MISSING_ARGUMENTS: sign") }
        guard let version = fields["sign_version"] else {
            return answer.failure(400, "MISSING_ARGUMENTS: sign_version")
        }
        guard version == "hmac_sha1" else { return answer.failure(400, "BAD_ARGUMENTS: sign_version") }
        do {
            _ = try self.verifier.verify(sign, now: now)
        } catch .unauthenticated {
            return answer.failure(403, "AUTHENTICATION_ERROR")
        } catch .invalidSign {
            return answer.failure(403, "AUTHORIZATION_ERROR: INVALID_SIGN", withRequestID: false)
        } catch {
            return answer.failure(403, "AUTHORIZATION_ERROR: EXPIRED_SIGN", withRequestID: false)
        }
        if call == "group_list" { return self.groupList(answer) }
        guard let groupID = fields["group_id"] else { return answer.failure(400, "MISSING_ARGUMENTS: group_id") }
        guard let group = self.groups.withLock({ $0[groupID] }) else { return answer.failure(400, "INVALID_GROUP_ID") }
        switch call {
        case "get_size":
            return answer.json(
                Wire.Size(
                    request_id: answer.requestID,
                    time_used: answer.timeUsed,
                    group_id: groupID,
                    face_count: group.faces.count
                )
            )
        case "group_info":
            return answer.json(
                Wire.GroupInfoAnswer(request_id: answer.requestID, time_used: answer.timeUsed, info: Self.info(group))
            )
        case "face_info":
            guard let token = fields["face_token"] else { return answer.failure(400, "MISSING_ARGUMENTS: face_token") }
            guard let face = group.faces.first(where: { $0.faceToken == token }) else {
                return answer.failure(400, "INVALID_FACE_TOKEN")
            }
            let info = Wire.FaceInfo(
                face_token: face.faceToken,
                user_id: face.userID,
                user_data: face.userData,
                add_time: face.addTime
            )
            return answer.json(
                Wire.FaceInfoAnswer(request_id: answer.requestID, time_used: answer.timeUsed, info: info)
            )
        default:
            return self.list(group, fields: fields, answer: answer)
        }
    }

    private func list(_ group: SimulatedGroup, fields: [String: String], answer: Answer) -> SimulatedResponse {
        var start = 1
        if let text = fields["start"] {
            guard let value = Int(text), value >= 1 else { return answer.failure(400, "BAD_ARGUMENTS: start") }
            if case .strict(let cap) = self.configuration.startCap, value > cap {
                return answer.failure(400, "BAD_ARGUMENTS: start")
            }
            start = value
        }
        var limit = 100
        if let text = fields["limit"] {
            guard let value = Int(text), (1...1000).contains(value) else {
                return answer.failure(400, "BAD_ARGUMENTS: limit")
            }
            limit = value
        }
        let from = min(start - 1, group.faces.count)
        let to = min(from + limit, group.faces.count)
        let faces = group.faces[from..<to].enumerated().map { offset, face in
            Wire.Face(face: face, addTimeStyle: self.configuration.addTimeStyle, position: from + offset)
        }
        let next = self.configuration.sendsNext && to < group.faces.count ? String(to + 1) : nil
        self.statistics.withLock { $0.facesServed += faces.count }
        return answer.json(
            Wire.List(request_id: answer.requestID, time_used: answer.timeUsed, face_tokens: faces, next: next)
        )
    }

    private func groupList(_ answer: Answer) -> SimulatedResponse {
        let infos = self.groups.withLock { groups in self.groupOrder.compactMap { groups[$0].map(Self.info) } }
        return answer.json(Wire.GroupList(request_id: answer.requestID, time_used: answer.timeUsed, group_infos: infos))
    }

    private static func info(_ group: SimulatedGroup) -> Wire.GroupInfo {
        Wire.GroupInfo(
            group_id: group.groupID,
            group_name: group.groupName,
            group_data: group.groupData,
            model_version: "v3",
            add_time: iso8601(group.addTime, offsetHours: 8)
        )
    }

    private static func code(of response: SimulatedResponse) -> String {
        struct ErrorOnly: Decodable { let error: String }
        guard let error = try? JSONDecoder().decode(ErrorOnly.self, from: response.body).error else {
            return String(response.status)
        }
        return String(error.split(separator: ":").first ?? Substring(error))
    }

    /// The request id and timing shared by one call's answer.
    private struct Answer {
        let requestID: String
        let started: DispatchTime

        var timeUsed: Int { Int((DispatchTime.now().uptimeNanoseconds - self.started.uptimeNanoseconds) / 1_000_000) }

        func json(_ value: some Encodable) -> SimulatedResponse {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.withoutEscapingSlashes]
            // Encoding these plain structs cannot fail.
            let body = try! encoder.encode(value)
            return SimulatedResponse(status: 200, contentType: "application/json", body: body)
        }

        func failure(_ status: Int, _ error: String, withRequestID: Bool = true) -> SimulatedResponse {
            let wire = Wire.Failure(
                request_id: withRequestID ? self.requestID : nil,
                time_used: withRequestID ? self.timeUsed : nil,
                error: error
            )
            var response = self.json(wire)
            response.status = status
            return response
        }
    }
}

/// What the simulator has done: for tests, benchmarks and the `simulate` command's report.
public struct SimulatorStatistics: Sendable {
    /// Requests answered, all calls and outcomes.
    public var requests = 0
    /// Requests per call name.
    public var requestsByCall: [String: Int] = [:]
    /// Error answers per error code (the text before `:`), or per status when the body was not JSON.
    public var errorsByCode: [String: Int] = [:]
    /// Faces sent in `list` answers.
    public var facesServed = 0
}
