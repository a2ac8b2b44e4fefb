public import Foundation
import Synchronization

/// The FaceSearch API's behaviour, without HTTP: validates a call's fields, checks its signature,
/// and answers from the dataset with the statuses and error strings of the spec.
public final class FaceSearchAPI: Sendable {
    private let configuration: SimulatorConfiguration
    private let verifier: SignatureVerifier
    /// Each API key's libraries: an account sees only its own.
    private let libraries: Mutex<[String: Library]>

    private struct Library: Sendable {
        var groups: [String: SimulatedGroup]
        var order: [String]

        init(_ dataset: Dataset) {
            self.groups = Dictionary(dataset.groups.map { ($0.groupID, $0) }, uniquingKeysWith: { first, _ in first })
            self.order = dataset.groups.map(\.groupID)
        }
    }
    private let statistics = Mutex(SimulatorStatistics())
    private let admission = Mutex(Admission())
    private let faultDraws: Mutex<SplitMix64>
    private let wallClock: @Sendable () -> Int64
    private static let calls: Set<String> = ["list", "get_size", "group_list", "face_info", "group_info"]

    /// Per-key bookkeeping for the rate and in-flight limits, and the run's timeline for outages and
    /// limit changes.
    private struct Admission {
        var acceptedTimes: [String: [Double]] = [:]
        var inFlight: [String: Int] = [:]
        var totalInFlight = 0
        var calls = 0
        var firstCall: Double?
        var outageBegan: Double?
    }

    /// Creates the API where every accepted key sees `dataset`; `wallClock` gives Unix seconds.
    public convenience init(
        configuration: SimulatorConfiguration,
        dataset: Dataset,
        wallClock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) {
        let datasets = Dictionary(uniqueKeysWithValues: configuration.credentials.keys.map { ($0, dataset) })
        self.init(configuration: configuration, datasets: datasets, wallClock: wallClock)
    }

    /// Creates the API where each key sees its own dataset (an account's libraries); a key without a
    /// dataset sees none.
    public init(
        configuration: SimulatorConfiguration,
        datasets: [String: Dataset],
        wallClock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }
    ) {
        self.configuration = configuration
        self.verifier = SignatureVerifier(secrets: configuration.credentials)
        self.libraries = Mutex(datasets.mapValues(Library.init))
        self.faultDraws = Mutex(SplitMix64(seed: configuration.faults.seed))
        self.wallClock = wallClock
    }

    /// What the simulator has done so far.
    public var counts: SimulatorStatistics { self.statistics.withLock { $0 } }

    /// A connection was accepted (counted by the HTTP layer).
    package func connectionAccepted() {
        self.statistics.withLock { $0.connectionsAccepted += 1 }
    }

    /// Answers one call, e.g. `list`, given its form fields, with the planned faults.
    public func respond(call: String, fields: [String: String]) async -> SimulatedResponse {
        let started = DispatchTime.now()
        self.statistics.withLock {
            $0.requests += 1
            $0.requestsByCall[call, default: 0] += 1
        }
        let now = self.wallClock() + self.configuration.clockOffset
        let answer = Answer(requestID: "\(now),\(UUID().uuidString.lowercased())", started: started)
        if let refusal = self.outageRefusal() { return refusal }
        let response = await self.answer(call: call, fields: fields, now: now, answer: answer)
        if let code = response.errorCode {
            self.statistics.withLock { $0.errorsByCode[code, default: 0] += 1 }
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

    private func answer(call: String, fields: [String: String], now: Int64, answer: Answer) async -> SimulatedResponse {
        let faults = self.configuration.faults
        // Unknown paths answer without request_id, as the vendor's 404 bodies do.
        let unavailable = self.configuration.unavailableCalls.contains(call)
        guard Self.calls.contains(call), !unavailable || self.configuration.unavailableAnswer != .notFound else {
            return answer.failure(404, "API_NOT_FOUND", withRequestID: false)
        }
        let key: String
        switch self.authenticate(fields, now: now, answer: answer) {
        case .success(let accepted): key = accepted
        case .failure(let rejection): return rejection.response
        }
        if unavailable { return answer.failure(403, "AUTHORIZATION_ERROR: DENIED", withRequestID: false) }
        if self.draw(faults.expiredSignatureRate, fault: "expired_signature") {
            return answer.failure(403, "AUTHORIZATION_ERROR: EXPIRED_SIGN", withRequestID: false)
        }
        guard self.admit(key) else {
            let now = self.configuration.monotonicClock()
            self.statistics.withLock {
                $0.rejections += 1
                if self.configuration.recordsTimeline { $0.rejectedTimes.append(now) }
            }
            var response = answer.failure(faults.limitStatus, "CONCURRENCY_LIMIT_EXCEEDED")
            response.retryAfter = faults.retryAfter
            return response
        }
        defer { self.release(key) }
        // The latency is the server's time to answer, its own work included: the answer is made at
        // once and sent when the latency has passed (at once, if making it took longer).
        let arrived = ContinuousClock.now
        var delay = faults.latency
        if faults.latencyJitter > 0 { delay += (self.unitDraw() * 2 - 1) * faults.latencyJitter }
        if self.draw(faults.slowRate, fault: "slow") { delay += faults.slowDelay }
        var response: SimulatedResponse
        if self.draw(faults.errorRate, fault: "internal_error") {
            response = answer.failure(500, "INTERNAL_ERROR")
        } else {
            response = self.authenticated(call: call, key: key, fields: fields, answer: answer)
            if self.draw(faults.resetRate, fault: "reset") {
                response.connectionFault = .reset
            } else if self.draw(faults.truncateRate, fault: "truncate") {
                response.connectionFault = .truncate
            } else if self.draw(faults.endlessRate, fault: "endless") {
                response.connectionFault = .endless
            }
        }
        let remaining = arrived + .seconds(delay) - ContinuousClock.now
        if remaining > .zero { try? await Task.sleep(for: remaining) }
        return response
    }

    private struct Rejection: Error {
        let response: SimulatedResponse
    }

    /// The API key of a well-signed call, or the answer that refuses it.
    private func authenticate(_ fields: [String: String], now: Int64, answer: Answer) -> Result<String, Rejection> {
        func refuse(_ status: Int, _ error: String, withRequestID: Bool = true) -> Result<String, Rejection> {
            .failure(Rejection(response: answer.failure(status, error, withRequestID: withRequestID)))
        }
        guard let sign = fields["sign"] else { return refuse(400, "MISSING_ARGUMENTS: sign") }
        guard let version = fields["sign_version"] else { return refuse(400, "MISSING_ARGUMENTS: sign_version") }
        guard version == "hmac_sha1" else { return refuse(400, "BAD_ARGUMENTS: sign_version") }
        do {
            return .success(try self.verifier.verify(sign, now: now))
        } catch .unauthenticated {
            return refuse(403, "AUTHENTICATION_ERROR")
        } catch .invalidSign {
            // The vendor's 403 AUTHORIZATION_ERROR bodies may lack request_id; this one does.
            return refuse(403, "AUTHORIZATION_ERROR: INVALID_SIGN", withRequestID: false)
        } catch {
            return refuse(403, "AUTHORIZATION_ERROR: EXPIRED_SIGN", withRequestID: false)
        }
    }

    /// What a call gets while the planned outage lasts (nil when the API is up): counts every call and
    /// starts the outage at its call.
    private func outageRefusal() -> SimulatedResponse? {
        let now = self.configuration.monotonicClock()
        let down: FaultPlan.Outage? = self.admission.withLock { admission in
            admission.calls += 1
            if admission.firstCall == nil { admission.firstCall = now }
            guard let outage = self.configuration.faults.outage else { return nil }
            if admission.outageBegan == nil && admission.calls >= outage.fromCall { admission.outageBegan = now }
            guard let began = admission.outageBegan, now < began + outage.seconds else { return nil }
            return outage
        }
        guard let down else { return nil }
        self.statistics.withLock { $0.faults["outage", default: 0] += 1 }
        switch down.kind {
        case .reset:
            var response = SimulatedResponse(status: 503, contentType: "text/plain", body: Data())
            response.connectionFault = .reset
            return response
        case .unavailable:
            return SimulatedResponse(status: 503, contentType: "text/plain", body: Data("Service Unavailable".utf8))
        }
    }

    /// Takes an in-flight slot and a place in the key's one-second window, or refuses.
    private func admit(_ key: String) -> Bool {
        let faults = self.configuration.faults
        let now = self.configuration.monotonicClock()
        let admittedWith: Int? = self.admission.withLock { admission in
            if let limit = faults.inFlightLimit, admission.inFlight[key, default: 0] >= limit { return nil }
            var rateLimit = faults.requestsPerSecondLimit
            if let change = faults.limitChange, let first = admission.firstCall, now >= first + change.afterSeconds {
                rateLimit = change.requestsPerSecond
            }
            if let limit = rateLimit {
                var times = admission.acceptedTimes[key, default: []]
                times.removeAll { $0 <= now - 1 }
                defer { admission.acceptedTimes[key] = times }
                guard times.count < limit else { return nil }
                times.append(now)
            }
            admission.inFlight[key, default: 0] += 1
            admission.totalInFlight += 1
            return admission.totalInFlight
        }
        guard let inFlight = admittedWith else { return false }
        self.statistics.withLock { statistics in
            statistics.peakInFlight = max(statistics.peakInFlight, inFlight)
            if self.configuration.recordsTimeline { statistics.acceptedTimes.append(now) }
        }
        return true
    }

    private func release(_ key: String) {
        self.admission.withLock {
            $0.inFlight[key, default: 1] -= 1
            $0.totalInFlight -= 1
        }
    }

    /// A uniform draw in [0, 1) from the seeded fault generator.
    private func unitDraw() -> Double {
        Double(self.faultDraws.withLock { $0.next() } >> 11) / Double(UInt64(1) << 53)
    }

    /// Whether a fault with probability `rate` happens now; counts it when it does.
    private func draw(_ rate: Double, fault: String) -> Bool {
        guard rate > 0, self.unitDraw() < rate else { return false }
        self.statistics.withLock { $0.faults[fault, default: 0] += 1 }
        return true
    }

    /// The answer of an authenticated, admitted call.
    private func authenticated(call: String, key: String, fields: [String: String], answer: Answer) -> SimulatedResponse
    {
        if call == "group_list" {
            return self.groupList(self.libraries.withLock { $0[key] } ?? Library(Dataset(groups: [])), answer)
        }
        guard let groupID = fields["group_id"] else { return answer.failure(400, "MISSING_ARGUMENTS: group_id") }
        if call == "list" { self.mutate(key: key, groupID: groupID, start: fields["start"].flatMap { Int($0) } ?? 1) }
        guard let group = self.libraries.withLock({ $0[key]?.groups[groupID] }) else {
            return answer.failure(400, "INVALID_GROUP_ID")
        }
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

    /// With the planned probability, changes the library as a user editing it during an export would:
    /// deletes a face before the page asked for (shifting the offsets) or adds one (at the end).
    private func mutate(key: String, groupID: String, start: Int) {
        let rate = self.configuration.mutationRate
        guard rate > 0, self.unitDraw() < rate else { return }
        let deleting = start > 1 && self.unitDraw() < 0.5
        let pick = self.unitDraw()
        let token =
            String(self.faultDraws.withLock { $0.next() }, radix: 16)
            + String(self.faultDraws.withLock { $0.next() }, radix: 16)
        let mutation: SimulatedMutation? = self.libraries.withLock { libraries in
            guard var group = libraries[key]?.groups[groupID] else { return nil }
            let mutation: SimulatedMutation
            if deleting {
                let position = min(Int(pick * Double(start - 1)), group.faces.count - 1)
                guard position >= 0 else { return nil }
                mutation = SimulatedMutation(
                    groupID: groupID,
                    faceToken: group.faces.remove(at: position).faceToken,
                    kind: .deleted
                )
            } else {
                let last = group.faces.last?.addTime ?? group.addTime
                group.faces.append(
                    SimulatedFace(
                        faceToken: token,
                        userID: "added",
                        userData: "added during the export",
                        addTime: last + 1000
                    )
                )
                mutation = SimulatedMutation(groupID: groupID, faceToken: token, kind: .added)
            }
            libraries[key]?.groups[groupID] = group
            return mutation
        }
        if let mutation { self.statistics.withLock { $0.mutations.append(mutation) } }
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
        let damagedRate = self.configuration.faults.damagedTextRate
        let faces = group.faces[from..<to].enumerated().map { offset, face in
            var face = face
            if let damage = DamagedText.damage(of: face.faceToken, rate: damagedRate) {
                face.userData = damage.marker + face.userData
            }
            return Wire.Face(face: face, addTimeStyle: self.configuration.addTimeStyle, position: from + offset)
        }
        let next = self.configuration.sendsNext && to < group.faces.count ? String(to + 1) : nil
        self.statistics.withLock { $0.facesServed += faces.count }
        var response = answer.json(
            Wire.List(request_id: answer.requestID, time_used: answer.timeUsed, face_tokens: faces, next: next)
        )
        if damagedRate > 0 { response.body = DamagedText.apply(to: response.body) }
        return response
    }

    private func groupList(_ library: Library, _ answer: Answer) -> SimulatedResponse {
        let infos = library.order.compactMap { library.groups[$0].map(Self.info) }
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
            response.errorCode = String(error.split(separator: ":").first ?? Substring(error))
            return response
        }
    }
}
