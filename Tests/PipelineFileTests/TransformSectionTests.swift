import ExportPipeline
import Foundation
import PipelineFile
import Testing

/// `faceexport validate`'s view of the `transform:` section: every mistake names its key and line.
struct TransformSectionTests {
    /// A pipeline whose `transform:` section starts on line 5 and whose outputs start on line 3.
    static func pipeline(_ transform: String, outputs: String = "  - {format: csv, path: f.csv.gz}") -> String {
        "name: x\nendpoint: embedded\noutputs:\n\(outputs)\ntransform:\n"
            + transform.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(
                separator: "\n"
            ) + "\n"
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var transform: String
        var outputs = "  - {format: csv, path: f.csv.gz}"
        var line: Int
        var key: String
        var says: String
        var testDescription: String { self.name }
    }

    static let cases: [Case] = [
        Case(
            name: "unknown key",
            transform: "select: [user_id]\nhashh: [user_id]",
            line: 7,
            key: "transform.hashh",
            says: "unknown key"
        ),
        Case(
            name: "unknown column in select",
            transform: "select:\n  - user_id\n  - phone",
            line: 8,
            key: "transform.select[1]",
            says: "unknown column 'phone'"
        ),
        Case(
            name: "select and drop",
            transform: "select: [user_id]\ndrop: [user_data]",
            line: 7,
            key: "transform.drop",
            says: "not both"
        ),
        Case(
            name: "nothing left",
            transform: "drop: [group_id, face_token, user_id, user_data, add_time, add_time_utc]",
            line: 6,
            key: "transform.drop",
            says: "no column"
        ),
        Case(
            name: "hash without a key",
            transform: "hash: [user_id]",
            line: 6,
            key: "transform.hash_key",
            says: "missing"
        ),
        Case(
            name: "a key in the file",
            transform: "hash: [user_id]\nhash_key: {value: s3cr3t}",
            line: 7,
            key: "transform.hash_key.value",
            says: "never go in a pipeline file"
        ),
        Case(
            name: "a key from nowhere",
            transform: "hash: [user_id]\nhash_key: {}",
            line: 7,
            key: "transform.hash_key",
            says: "exactly one of env"
        ),
        Case(
            name: "a key with no hash",
            transform: "hash_key: {env: K}",
            line: 6,
            key: "transform.hash_key",
            says: "no column is hashed"
        ),
        Case(
            name: "hash of a non-personal column",
            transform: "hash: [user_id, add_time]\nhash_key: {env: K}",
            line: 6,
            key: "transform.hash[1]",
            says: "applies to face_token, user_id, user_data"
        ),
        Case(
            name: "hash and redact",
            transform: "hash: [user_id]\nhash_key: {env: K}\nredact: [user_id]",
            line: 8,
            key: "transform.redact[0]",
            says: "already under hash"
        ),
        Case(
            name: "redact a dropped column",
            transform: "drop: [user_data]\nredact: [user_data]",
            line: 7,
            key: "transform.redact[0]",
            says: "not written"
        ),
        Case(
            name: "truncate to zero",
            transform: "truncate: {user_data: 0}",
            line: 6,
            key: "transform.truncate.user_data",
            says: "out of range"
        ),
        Case(
            name: "rename into a clash",
            transform: "rename:\n  face_token: user_id",
            line: 7,
            key: "transform.rename.face_token",
            says: "both be written as 'user_id'"
        ),
        Case(
            name: "rename to a bad name",
            transform: "rename: {face_token: face id}",
            line: 6,
            key: "transform.rename.face_token",
            says: "a column name is"
        ),
        Case(
            name: "constant clashing with a column",
            transform: "constants: {user_id: x}",
            line: 6,
            key: "transform.constants.user_id",
            says: "already a column"
        ),
        Case(
            name: "declared but not selected",
            transform: "select: [user_id]\nmetadata: [run_id]",
            line: 6,
            key: "transform.select",
            says: "'run_id' is declared but not selected"
        ),
        Case(
            name: "unknown metadata",
            transform: "metadata: [run_id, hostname]",
            line: 6,
            key: "transform.metadata[1]",
            says: "not one of run_id, exported_at, account"
        ),
        Case(
            name: "bad add_time form",
            transform: "add_time: seconds",
            line: 6,
            key: "transform.add_time",
            says: "not one of ms, rfc3339, both"
        ),
        Case(
            name: "unknown time zone",
            transform: "add_date:\n  time_zone: Mars/Olympus",
            line: 7,
            key: "transform.add_date.time_zone",
            says: "not a known IANA time zone"
        ),
        Case(
            name: "bad regular expression",
            transform: "filter:\n  user_id: \"([a-z\"",
            line: 7,
            key: "transform.filter.user_id",
            says: "not a valid regular expression"
        ),
        Case(
            name: "bad window",
            transform: "filter:\n  add_time: {since: yesterday}",
            line: 7,
            key: "transform.filter.add_time.since",
            says: "expected a duration"
        ),
        Case(
            name: "a window of more than 100 years",
            transform: "filter:\n  add_time: {since: 99999999999999999999d}",
            line: 7,
            key: "transform.filter.add_time.since",
            says: "at most 100 years"
        ),
        Case(
            name: "empty window",
            transform: "filter:\n  add_time:\n    since: 2026-11-02T00:00:00Z\n    until: 2026-11-01T00:00:00Z",
            line: 9,
            key: "transform.filter.add_time.until",
            says: "later than since"
        ),
        Case(
            name: "merge without a token",
            transform: "drop: [face_token]",
            outputs: "  - {format: sqlite, path: f.db, mode: merge}",
            line: 4,
            key: "outputs[0].mode",
            says: "leaves out face_token"
        ),
        Case(
            name: "merge with a filter",
            transform: "filter: {add_time: {since: 24h}}",
            outputs: "  - {format: sqlite, path: f.db, mode: merge}",
            line: 4,
            key: "outputs[0].mode",
            says: "mark filtered faces deleted"
        ),
        Case(
            name: "a SQLite bookkeeping name",
            transform: "rename: {user_data: change_run}",
            outputs: "  - {format: sqlite, path: f.db}",
            line: 4,
            key: "outputs[0]",
            says: "keeps its own 'change_run'"
        ),
        Case(
            name: "a redacted SQLite key",
            transform: "redact: [face_token]",
            outputs: "  - {format: sqlite, path: f.db}",
            line: 6,
            key: "transform.redact",
            says: "Hash face_token instead"
        ),
    ]

    @Test(arguments: cases)
    func eachMisconfigurationNamesItsKeyAndLine(_ testCase: Case) throws {
        let yaml = Self.pipeline(testCase.transform, outputs: testCase.outputs)
        do {
            _ = try PipelineFileLoader.parse(yaml, file: "p.yaml")
            Issue.record("accepted:\n\(yaml)")
        } catch {
            #expect(error.key == testCase.key, "\(error)")
            #expect(error.line == testCase.line, "\(error)")
            #expect(error.message.contains(testCase.says), "\(error)")
        }
    }

    @Test func aFullSectionIsReadAsWritten() throws {
        let yaml = Self.pipeline(
            """
            select: [group_id, face_token, user_id, user_data, add_time, add_date, run_id, source]
            rename: {face_token: face_id, group_id: library}
            constants: {source: finauth-sgp}
            metadata: [run_id]
            add_time: ms
            add_date: {time_zone: Asia/Singapore}
            hash: [user_id]
            hash_key: {env: FACEEXPORT_HASH_KEY}
            hash_encoding: base64url
            redact: [user_data]
            redact_marker: "[redacted]"
            truncate: {face_token: 8}
            filter:
              add_time: {since: 36h, until: 2026-11-01T00:00:00Z}
              user_id: "^86"
            """
        )
        let transform = try PipelineFileLoader.parse(yaml, file: "p.yaml").transform
        #expect(
            transform.outputSourceNames == [
                "group_id", "face_token", "user_id", "user_data", "add_time", "add_date", "run_id", "source",
            ]
        )
        #expect(transform.rename == ["face_token": "face_id", "group_id": "library"])
        #expect(transform.constants == [.init(name: "source", value: "finauth-sgp")])
        #expect(transform.addTime == .milliseconds)
        #expect(transform.addDateTimeZone == "Asia/Singapore")
        #expect(transform.hashKey == .environment("FACEEXPORT_HASH_KEY"))
        #expect(transform.hashEncoding == .base64url)
        #expect(transform.redactMarker == "[redacted]")
        #expect(transform.truncate == ["face_token": 8])
        #expect(transform.filter.since == .relative(seconds: 36 * 3600))
        #expect(transform.filter.until == .absolute(milliseconds: 1_793_491_200_000))
        #expect(transform.filter.userIDPattern == "^86")
        // Layout and comments do not change the digest the manifest records; a value does.
        let reformatted = try PipelineFileLoader.parse(
            yaml.replacingOccurrences(of: "[user_id]", with: "[ user_id ]  # pii"),
            file: "p.yaml"
        )
        #expect(reformatted.transform.digest == transform.digest)
        let changed = try PipelineFileLoader.parse(yaml.replacingOccurrences(of: "36h", with: "37h"), file: "p.yaml")
        #expect(changed.transform.digest != transform.digest)
    }
}
