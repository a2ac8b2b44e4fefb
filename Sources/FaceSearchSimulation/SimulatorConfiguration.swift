import Dispatch

/// How the simulator behaves where the vendor's documents leave room, and what it accepts.
public struct SimulatorConfiguration: Sendable {
    /// How `list` treats `start` beyond the documented range [1, 1000].
    public enum StartCap: Sendable, Hashable {
        /// Accept any `start` (a lax server).
        case lax
        /// Reject `start` above this value with `400 BAD_ARGUMENTS: start` (a strict server).
        case strict(Int)
    }

    /// How `add_time` is written in `list` answers: the documents show all three.
    public enum AddTimeStyle: String, Sendable, Hashable, CaseIterable {
        /// A JSON number of milliseconds, as the vendor's example.
        case number
        /// A string of milliseconds, as the vendor's field table.
        case string
        /// Number, string and ISO-8601 with a `+08:00` offset, varying face by face, plus unknown fields.
        case mixed
    }

    /// The address to listen on. Default `127.0.0.1`.
    public var host: String = "127.0.0.1"
    /// The port; 0 picks a free one. Default 0.
    public var port: Int = 0
    /// Accepted API keys and their secrets.
    public var credentials: [String: String]
    /// `start` policy. Default `.lax`.
    public var startCap: StartCap = .lax
    /// `add_time` form. Default `.number`.
    public var addTimeStyle: AddTimeStyle = .number
    /// Whether `list` answers carry a `next` field (the text mentions one, no example shows it). Default false.
    public var sendsNext = false
    /// Seconds added to the server's clock when it checks signatures; a positive offset makes fresh
    /// signatures look old. Default 0.
    public var clockOffset: Int64 = 0
    /// The largest request body accepted before a `413`. Default 1 MiB.
    public var maxBodyBytes = 1 << 20
    /// Faults to inject. Default none.
    public var faults = FaultPlan()
    /// The share of `list` calls before which the library changes: half delete a face before the page
    /// asked for, half add one at the end. Recorded in ``SimulatorStatistics/mutations``. Default 0.
    public var mutationRate = 0.0
    /// How a call the key may not make is refused.
    public enum UnavailableAnswer: String, Sendable, Hashable, CaseIterable {
        /// `404 API_NOT_FOUND`, as a region without the call answers (before the signature is checked).
        case notFound = "not-found"
        /// `403 AUTHORIZATION_ERROR: DENIED`, as a key without the permission is answered.
        case denied
    }

    /// Calls this API does not offer (e.g. `get_size`, `group_list`). Default none.
    public var unavailableCalls: Set<String> = []
    /// How ``unavailableCalls`` are refused. Default ``UnavailableAnswer/notFound``.
    public var unavailableAnswer = UnavailableAnswer.notFound
    /// Whether to keep the time of every accepted call, for ``SimulatorStatistics/busiestSecond``. Default false.
    public var recordsTimeline = false
    /// Monotonic seconds, for the rate limit's window, its change and outages: tests pass the clock
    /// the exporter runs on. Default the machine's monotonic clock.
    public var monotonicClock: @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// Creates a configuration that accepts `credentials`.
    public init(credentials: [String: String]) {
        self.credentials = credentials
    }
}
