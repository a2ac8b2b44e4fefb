public import ExportSinks
public import FaceSearch
import Foundation

/// How a run ended overall.
public enum RunOutcome: String, Sendable, Codable {
    /// Every library was exported completely; outputs committed.
    case complete
    /// Outputs committed, but some libraries failed, were incomplete or did not reconcile.
    case partial
    /// The run stopped (API refused it, outputs could not be written); previous outputs untouched.
    case failed
    /// The run was stopped from outside (a signal); its journal and temporary files wait for `--resume`.
    case interrupted
}

/// What happened to one library.
public struct GroupReport: Sendable {
    /// The account's name.
    public var account: String
    /// The library's id.
    public var groupID: String
    /// How its walk ended.
    public var status: GroupStatus
    /// The count `get_size` announced before the walk.
    public var expected: Int?
    /// The count `get_size` announced after the walk.
    public var expectedAfter: Int?
    /// Faces written to the outputs.
    public var exported: Int
    /// Faces the transform's filter left out.
    public var filtered: Int
    /// Non-empty pages received.
    public var pages: Int
    /// Calls made for this library, retries included.
    public var requests: Int
    /// Calls retried.
    public var retries: Int
    /// Faces received twice and dropped.
    public var duplicatesDropped: Int
    /// Faces beyond the server's `start` cap, for an incomplete library.
    public var unreachable: Int?
    /// Why it failed or is incomplete.
    public var error: String?
    /// What `group_list` said of the library, when it was discovered.
    public var info: GroupInfo?
    /// Whether the library was edited while it was walked (its size or the faces walked moved).
    public var changedDuringExport = false
    /// Faces whose text was not valid UTF-8 as the API sent it, exported with U+FFFD in its place.
    public var repairedText = RepairedText()

    /// ``error`` without the API's `[request_id …]`: the same failure reads the same for every library.
    public var reason: String? { self.error?.components(separatedBy: " [request_id").first }
}

/// Everything a run did: the single place its outcome is decided from.
public struct RunReport: Sendable {
    /// The run's id.
    public var runID: String
    /// The pipeline's name.
    public var pipeline: String
    /// The shard this run exported, if it was one.
    public var shard: Shard? = nil
    /// When the run started, RFC 3339 UTC.
    public var startedAt: String
    /// When the walk ended, RFC 3339 UTC.
    public var finishedAt: String
    /// The outcome.
    public var outcome: RunOutcome
    /// Why the run failed, when it did.
    public var failure: String?
    /// Accounts whose library list could not be read.
    public var accountErrors: [String: String]
    /// One entry per library, in the order they were scheduled.
    public var groups: [GroupReport]
    /// The files committed (none when the run failed).
    public var files: [SinkSummary]
    /// Seconds from start to end.
    public var duration: Double
    /// Attempts by outcome: `ok`, `retryable_error`, `group_error`, `run_error`.
    public var attemptsByOutcome: [String: Int] = [:]
    /// Attempts the API throttled (`CONCURRENCY_LIMIT_EXCEEDED`, 429).
    public var throttled = 0
    /// Calls that belong to no library (`group_list`, discovering each account's libraries), and
    /// how many of them were retries.
    public var discoveryRequests = 0
    public var discoveryRetries = 0
    /// The columns of the records.
    public var schema = RecordSchema.standard
    /// SHA-256 of the pipeline's `transform:` section (see ``RecordTransform/digest``).
    public var transformDigest = RecordTransform.standard.digest

    /// Faces written.
    public var faces: Int { self.groups.reduce(0) { $0 + $1.exported } }
    /// Faces the transform's filter left out.
    public var filtered: Int { self.groups.reduce(0) { $0 + $1.filtered } }
    /// Faces whose text was repaired (not valid UTF-8 as the API sent it), over every library.
    public var repairedText: Int { self.groups.reduce(0) { $0 + $1.repairedText.count } }
    /// Non-empty pages received.
    public var pages: Int { self.groups.reduce(0) { $0 + $1.pages } }
    /// Calls made, retries included: every library's and the discovery's.
    public var requests: Int { self.groups.reduce(self.discoveryRequests) { $0 + $1.requests } }
    /// Calls retried, every library's and the discovery's.
    public var retries: Int { self.groups.reduce(self.discoveryRetries) { $0 + $1.retries } }
    /// Libraries edited while they were walked, complete or not.
    public var changedGroups: Int { self.groups.filter(\.changedDuringExport).count }
    /// Libraries not exported completely.
    public var unfinishedGroups: [GroupReport] { self.groups.filter { $0.status != .complete } }

    /// What the sinks need to know when they commit.
    public var commitContext: CommitContext {
        CommitContext(
            runID: self.runID,
            pipeline: self.pipeline,
            startedAt: self.startedAt,
            finishedAt: self.finishedAt,
            outcome: self.outcome.rawValue,
            groups: self.groups.map {
                CommitContext.Group(
                    account: $0.account,
                    groupID: $0.groupID,
                    status: $0.status.rawValue,
                    walkedToItsEnd: $0.status == .complete || $0.status == .unverified,
                    expected: $0.expected,
                    exported: $0.exported,
                    error: $0.error,
                    groupName: $0.info?.groupName,
                    groupData: $0.info?.groupData,
                    groupAddTime: $0.info?.addTime
                )
            },
            pages: self.pages,
            requests: self.requests,
            retries: self.retries
        )
    }
}

/// A snapshot of a running export, for progress lines.
public struct RunProgress: Sendable {
    /// Libraries scheduled so far.
    public var groupsScheduled: Int
    /// Libraries whose walk has ended.
    public var groupsWalked: Int
    /// Faces written.
    public var faces: Int
    /// Pages received.
    public var pages: Int
    /// Calls retried.
    public var retries: Int

    /// Creates figures.
    public init(groupsScheduled: Int, groupsWalked: Int, faces: Int, pages: Int, retries: Int) {
        self.groupsScheduled = groupsScheduled
        self.groupsWalked = groupsWalked
        self.faces = faces
        self.pages = pages
        self.retries = retries
    }
}
