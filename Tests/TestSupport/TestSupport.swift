import Dispatch
public import ExportPipeline
public import ExportSinks
import FaceSearchSimulation
public import Foundation
import Synchronization

/// A clock that never sleeps: `sleep` advances its time and records the wait.
public final class ManualClock: PipelineClock {
    /// Starts at 0 s.
    public init() {}

    private let state = Mutex<(now: Double, sleeps: [Double])>((0, []))

    public func now() -> Double { self.state.withLock { $0.now } }

    public func sleep(seconds: Double, unless stop: StopSignal) {
        self.state.withLock {
            $0.now += seconds
            $0.sleeps.append(seconds)
        }
    }

    public var sleeps: [Double] { self.state.withLock { $0.sleeps } }
}

/// A fresh folder under the system's temporary directory.
public func makeTemporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "faceexport-tests-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// One decoded NDJSON line, strings kept as their UTF-8 bytes for byte-exact comparison.
public struct OutputRow: Hashable {
    public var groupID: [UInt8]
    public var faceToken: String
    public var userID: [UInt8]
    public var userData: [UInt8]
    public var addTime: Int64
    public var addTimeUTC: String

    public init(
        groupID: [UInt8],
        faceToken: String,
        userID: [UInt8],
        userData: [UInt8],
        addTime: Int64,
        addTimeUTC: String
    ) {
        self.groupID = groupID
        self.faceToken = faceToken
        self.userID = userID
        self.userData = userData
        self.addTime = addTime
        self.addTimeUTC = addTimeUTC
    }
}

/// Runs a program and returns its standard output; fails on a non-zero exit.
public func runProgram(_ path: String, _ arguments: [String]) throws -> Data {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        let shown = arguments.map { $0.count > 80 ? String($0.prefix(80)) + "…" : $0 }
        throw TestFailure("\(path) \(shown) exited \(process.terminationStatus)")
    }
    return data
}

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Reads an NDJSON file (gzip-decompressed by the system's gzip when it ends in .gz) with
/// Foundation's JSON parser, which shares nothing with the sink's encoder.
public func readNDJSON(_ path: String) throws -> [OutputRow] {
    let data =
        path.hasSuffix(".gz")
        ? try runProgram("/bin/gzip", ["-dc", path]) : try Data(contentsOf: URL(fileURLWithPath: path))
    var rows: [OutputRow] = []
    for line in data.split(separator: UInt8(ascii: "\n")) {
        guard let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any],
            let group = object["group_id"] as? String, let token = object["face_token"] as? String,
            let userID = object["user_id"] as? String, let userData = object["user_data"] as? String,
            let addTime = (object["add_time"] as? NSNumber)?.int64Value, let utc = object["add_time_utc"] as? String
        else { throw TestFailure("malformed line: \(String(decoding: line, as: UTF8.self))") }
        rows.append(
            OutputRow(
                groupID: Array(group.utf8),
                faceToken: token,
                userID: Array(userID.utf8),
                userData: Array(userData.utf8),
                addTime: addTime,
                addTimeUTC: utc
            )
        )
    }
    return rows
}

/// Runs blocking work on its own Dispatch queue and awaits its result.
public func runOffThePool<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        DispatchQueue(label: "test.blocking").async { continuation.resume(returning: work()) }
    }
}

/// Runs blocking work that may throw on its own Dispatch queue and awaits its result: a test that
/// waits for a helper process or a Python script must not hold one of the few threads the
/// in-process simulators answer on.
public func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue(label: "test.blocking").async { continuation.resume(with: Result { try work() }) }
    }
}

/// One record of `RecordSchema.standard`, spelled out for tests that drive sinks directly.
public struct StandardRecord: Hashable {
    public var groupID: String
    public var faceToken: String
    public var userID: String
    public var userData: String
    public var addTime: Int64
    public var addTimeUTC: String

    public init(
        groupID: String,
        faceToken: String,
        userID: String,
        userData: String,
        addTime: Int64,
        addTimeUTC: String
    ) {
        self.groupID = groupID
        self.faceToken = faceToken
        self.userID = userID
        self.userData = userData
        self.addTime = addTime
        self.addTimeUTC = addTimeUTC
    }

    public var values: [FieldValue] {
        [
            .text(self.groupID), .text(self.faceToken), .text(self.userID), .text(self.userData),
            .integer(self.addTime),
            .text(self.addTimeUTC),
        ]
    }
}

extension RecordSink {
    /// Writes standard records, as the transformer would hand them over.
    public func write(_ records: [StandardRecord], from source: RecordSource) throws(SinkError) {
        var rows = RecordRows(width: RecordSchema.standard.columns.count, capacity: records.count)
        for record in records { rows.append(row: record.values) }
        try self.write(rows, from: source)
    }
}

/// The rows of a gzip CSV file after its header, as Python's csv module reads them.
public func csvRows(_ path: String) throws -> [[String]] {
    let script = """
        import csv, gzip, json, sys
        with gzip.open(sys.argv[1], 'rt', encoding='utf-8', newline='') as f:
            rows = list(csv.reader(f))
        json.dump(rows[1:], sys.stdout)
        """
    guard
        let rows = try JSONSerialization.jsonObject(with: runProgram("/usr/bin/python3", ["-c", script, path]))
            as? [[String]]
    else { throw TestFailure("\(path): Python's csv module read no rows") }
    return rows
}

/// What `query` returns from the SQLite file at `path`, as the sqlite3 program reads it.
public func sqliteRows(_ path: String, _ query: String) throws -> [[String: Any]] {
    let output = try runProgram("/usr/bin/sqlite3", ["-json", path, query])
    guard !output.isEmpty else { return [] }
    guard let rows = try JSONSerialization.jsonObject(with: output) as? [[String: Any]] else {
        throw TestFailure("\(path): sqlite3 did not answer \(query) with rows")
    }
    return rows
}

extension StandardRecord {
    /// Every hard string of the simulator's generator, in `user_id` and `user_data`.
    public static func hardRecords(group: String = "g0") -> [StandardRecord] {
        DatasetGenerator.hardStrings.enumerated().map { index, text in
            StandardRecord(
                groupID: group,
                faceToken: "token-\(group)-\(index)",
                userID: text,
                userData: text + "|" + text,
                addTime: 1_767_225_600_000 + Int64(index),
                addTimeUTC: "2026-01-01T00:00:00.\(String(format: "%03d", index))Z"
            )
        }
    }
}

extension CommitContext {
    /// A complete run's commit of pipeline `nightly`, for tests that drive sinks directly.
    public static func sample(groups: [CommitContext.Group] = [], runID: String = "r1") -> CommitContext {
        CommitContext(
            runID: runID,
            pipeline: "nightly",
            startedAt: "2026-11-26T01:00:00.000Z",
            finishedAt: "2026-11-26T01:05:00.000Z",
            outcome: "complete",
            groups: groups,
            pages: 1,
            requests: 2,
            retries: 0
        )
    }
}
