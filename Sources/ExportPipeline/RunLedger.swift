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
    }

    private struct State {
        var entries: [Entry] = []
        var accountErrors: [String: String] = [:]
        var callOutcomes: [String: Int] = [:]
        var throttled = 0
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
    func restore(_ key: GroupKey, written: Int, filtered: Int, requests: Int, retries: Int) {
        self.state.withLock {
            $0.entries[key.index].written = written
            $0.entries[key.index].filtered = filtered
            $0.entries[key.index].requests = requests
            $0.entries[key.index].retries = retries
        }
    }

    /// Rows written, faces filtered out, calls and retries of one library so far.
    func counts(_ key: GroupKey) -> (written: Int, filtered: Int, requests: Int, retries: Int) {
        self.state.withLock {
            let entry = $0.entries[key.index]
            return (entry.written, entry.filtered, entry.requests, entry.retries)
        }
    }

    func requestMade(_ key: GroupKey, retry: Bool) {
        self.state.withLock {
            $0.entries[key.index].requests += 1
            if retry { $0.entries[key.index].retries += 1 }
        }
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
                state.entries.reduce(0) { $0 + $1.retries }
            )
        }
    }

    func walkFinished(_ key: GroupKey, _ result: GroupWalkResult) {
        self.state.withLock { $0.entries[key.index].walk = result }
    }

    /// The sinks wrote `rows` records of this library, and the transform's filter left out `filtered` faces.
    func written(_ key: GroupKey, rows: Int, filtered: Int) {
        self.state.withLock {
            $0.entries[key.index].written += rows
            $0.entries[key.index].filtered += filtered
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
                    changedDuringExport: walk.changedDuringExport
                )
            }
            return (groups, state.accountErrors)
        }
    }
}
