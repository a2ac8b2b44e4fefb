/// What the simulator has done: for tests, benchmarks and the `simulate` command's report.
public struct SimulatorStatistics: Sendable, Codable {
    /// Requests answered, all calls and outcomes.
    public var requests = 0
    /// Requests per call name.
    public var requestsByCall: [String: Int] = [:]
    /// Error answers per error code (the text before `:`), or per status when the body was not JSON.
    public var errorsByCode: [String: Int] = [:]
    /// Faces sent in `list` answers.
    public var facesServed = 0
    /// Faults injected, by kind: `internal_error`, `reset`, `truncate`, `endless`, `slow`, `expired_signature`.
    public var faults: [String: Int] = [:]
    /// Calls refused with `CONCURRENCY_LIMIT_EXCEEDED`.
    public var rejections = 0
    /// The most calls in flight at once.
    public var peakInFlight = 0
    /// TCP connections accepted.
    public var connectionsAccepted = 0
    /// Changes made to libraries during exports (``SimulatorConfiguration/mutationRate``).
    public var mutations: [SimulatedMutation] = []
    /// When each admitted call arrived, in monotonic seconds (only with ``SimulatorConfiguration/recordsTimeline``).
    public var acceptedTimes: [Double] = []
    /// When each call refused with `CONCURRENCY_LIMIT_EXCEEDED` arrived (only with ``SimulatorConfiguration/recordsTimeline``).
    public var rejectedTimes: [Double] = []

    /// No activity yet.
    public init() {}

    /// The most admitted calls in any one-second window (needs ``SimulatorConfiguration/recordsTimeline``).
    public var busiestSecond: Int {
        let times = self.acceptedTimes.sorted()
        var best = 0
        var first = 0
        for last in times.indices {
            while times[last] - times[first] >= 1 { first += 1 }
            best = max(best, last - first + 1)
        }
        return best
    }
}

/// One change the simulator made to a library while it was being exported.
public struct SimulatedMutation: Sendable, Hashable, Codable {
    /// What happened to the face.
    public enum Kind: String, Sendable, Codable {
        case added, deleted
    }

    /// The library.
    public var groupID: String
    /// The face added or deleted.
    public var faceToken: String
    /// Added or deleted.
    public var kind: Kind
}
