import FaceSearch
import Synchronization

/// A library scheduled for export, identified by its position in the schedule.
struct GroupKey: Hashable, Sendable {
    let index: Int
}

/// The run's bookkeeping, shared by every stage: what was scheduled, walked, retried and written.
final class RunLedger: Sendable {
    private struct Entry {
        var account: String
        var groupID: String
        var info: GroupInfo?
        var walk: GroupWalkResult?
        var written = 0
        var filtered = 0
        var requests = 0
        var retries = 0
        var repaired = RepairedText()
    }

    private struct State {
        var entries: [Entry] = []
        var accountErrors: [String: String] = [:]
        var callOutcomes: [String: Int] = [:]
        var throttled = 0
        /// Calls of no library (`group_list`), and the retries among them.
        var discoveryRequests = 0
        var discoveryRetries = 0
    }

    private let state = Mutex(State())

    /// Adds a library to the schedule.
    func schedule(account: String, groupID: String, info: GroupInfo? = nil) -> GroupKey {
        self.state.withLock { state in
            state.entries.append(Entry(account: account, groupID: groupID, info: info))
            return GroupKey(index: state.entries.count - 1)
        }
    }

    func accountFailed(_ account: String, reason: String) {
        self.state.withLock { $0.accountErrors[account] = reason }
    }

    /// Carries over what an interrupted run had done for this library.
    func restore(
        _ key: GroupKey,
        written: Int,
        filtered: Int,
        requests: Int,
        retries: Int,
        repaired: RepairedText = RepairedText()
    ) {
        self.state.withLock {
            $0.entries[key.index].written = written
            $0.entries[key.index].filtered = filtered
            $0.entries[key.index].requests = requests
            $0.entries[key.index].retries = retries
            $0.entries[key.index].repaired = repaired
        }
    }

    /// Rows written, faces filtered out, calls, retries and repaired faces of one library so far.
    func counts(_ key: GroupKey) -> (written: Int, filtered: Int, requests: Int, retries: Int, repaired: RepairedText) {
        self.state.withLock {
            let entry = $0.entries[key.index]
            return (entry.written, entry.filtered, entry.requests, entry.retries, entry.repaired)
        }
    }

    func requestMade(_ key: GroupKey, retry: Bool) {
        self.state.withLock {
            $0.entries[key.index].requests += 1
            if retry { $0.entries[key.index].retries += 1 }
        }
    }

    /// A call of no library was made (`group_list`): `retry` when it was made again.
    func discoveryRequestMade(retry: Bool) {
        self.state.withLock {
            $0.discoveryRequests += 1
            if retry { $0.discoveryRetries += 1 }
        }
    }

    /// Calls of no library, and the retries among them.
    var discoveryCounts: (requests: Int, retries: Int) {
        self.state.withLock { ($0.discoveryRequests, $0.discoveryRetries) }
    }

    /// One attempt ended: `ok`, `retryable_error`, `group_error` or `run_error`.
    func attemptEnded(_ outcome: String, throttled: Bool) {
        self.state.withLock {
            $0.callOutcomes[outcome, default: 0] += 1
            if throttled { $0.throttled += 1 }
        }
    }

    /// Attempts by outcome, and how many the API throttled.
    var callCounts: (outcomes: [String: Int], throttled: Int) {
        self.state.withLock { ($0.callOutcomes, $0.throttled) }
    }

    /// Libraries scheduled so far, walked so far, and faces written so far: for progress reports.
    var progress: (scheduled: Int, walked: Int, faces: Int, pages: Int, retries: Int) {
        self.state.withLock { state in
            (
                state.entries.count, state.entries.filter { $0.walk != nil }.count,
                state.entries.reduce(0) { $0 + $1.written }, state.entries.reduce(0) { $0 + ($1.walk?.pages ?? 0) },
                state.entries.reduce(state.discoveryRetries) { $0 + $1.retries }
            )
        }
    }

    func walkFinished(_ key: GroupKey, _ result: GroupWalkResult) {
        self.state.withLock { $0.entries[key.index].walk = result }
    }

    /// The sinks wrote `rows` records of this library, the transform's filter left out `filtered`
    /// faces, and the faces with these tokens had their text repaired.
    func written(_ key: GroupKey, rows: Int, filtered: Int, repaired: [String] = []) {
        self.state.withLock {
            $0.entries[key.index].written += rows
            $0.entries[key.index].filtered += filtered
            if !repaired.isEmpty { $0.entries[key.index].repaired.add(repaired) }
        }
    }

    /// What the walk handed on for each library, less what the filter left out: what the outputs
    /// must hold.
    var handedOn: [CommitCheck.Library] {
        self.state.withLock { state in
            state.entries.map {
                CommitCheck.Library(
                    account: $0.account,
                    groupID: $0.groupID,
                    rows: ($0.walk?.exported ?? $0.written + $0.filtered) - $0.filtered
                )
            }
        }
    }

    func reports(stopReason: String?) -> (groups: [GroupReport], accountErrors: [String: String]) {
        self.state.withLock { state in
            let groups = state.entries.map { entry in
                let walk =
                    entry.walk
                    ?? GroupWalkResult(
                        status: .failed,
                        expected: nil,
                        exported: 0,
                        pages: 0,
                        duplicatesDropped: 0,
                        error: "not exported: the run stopped (\(stopReason ?? "unknown reason"))"
                    )
                var status = walk.status
                var error = walk.error
                if status != .failed && entry.written + entry.filtered != walk.exported {
                    status = .failed
                    error = "walked \(walk.exported) faces but wrote \(entry.written) and filtered \(entry.filtered)"
                }
                return GroupReport(
                    account: entry.account,
                    groupID: entry.groupID,
                    status: status,
                    expected: walk.expected,
                    expectedAfter: walk.expectedAfter,
                    exported: entry.written,
                    filtered: entry.filtered,
                    pages: walk.pages,
                    requests: entry.requests,
                    retries: entry.retries,
                    duplicatesDropped: walk.duplicatesDropped,
                    unreachable: walk.unreachable,
                    error: error,
                    info: entry.info,
                    changedDuringExport: walk.changedDuringExport,
                    repairedText: entry.repaired
                )
            }
            return (groups, state.accountErrors)
        }
    }
}

/// Faces of one library whose text was not valid UTF-8 (or held a lone surrogate) as the API sent
/// it, and was repaired: how many, and the first tokens, for the manifest.
public struct RepairedText: Sendable, Hashable {
    /// The most tokens kept per library.
    public static let tokensKept = 20

    /// Faces repaired.
    public private(set) var count = 0
    /// The first ``tokensKept`` of their tokens.
    public private(set) var tokens: [String] = []

    /// None repaired.
    public init() {}

    /// As an interrupted run's journal recorded it.
    init(count: Int, tokens: [String]) {
        self.count = count
        self.tokens = Array(tokens.prefix(Self.tokensKept))
    }

    mutating func add(_ repaired: [String]) {
        self.count += repaired.count
        self.tokens += repaired.prefix(max(0, Self.tokensKept - self.tokens.count))
    }
}
