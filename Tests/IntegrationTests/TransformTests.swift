import ExportSinks
import FaceSearch
import FaceSearchSimulation
import Foundation
import TestSupport
import Testing

@testable import ExportPipeline

/// The `transform:` section through all three sinks, checked against values computed outside
/// faceexport: Python computes every HMAC, truncation, timestamp and date, and reads every output.
struct TransformTests {
    static let key = Array("test-key-0123456789abcdef".utf8)
    static let dataset = DatasetGenerator(groups: 5, faces: 150, sizing: .mixed, seed: 11).make()
    /// Start of the run the transforms see: inside the dataset's time span, for relative windows.
    static let startedAt: Int64 = {
        let times = dataset.groups.flatMap(\.faces).map(\.addTime).sorted()
        return times[times.count / 2]
    }()

    /// One face with what Python derived from it.
    struct Face {
        var groupID: String
        var face: SimulatedFace
        var derived: [String: String]
    }

    /// A case: a configuration and the rows it must produce, as (column, value) pairs.
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var configure: @Sendable (inout TransformConfiguration) -> Void
        var expected: @Sendable (Face) -> [(String, Value)]?
        var testDescription: String { self.name }
    }

    /// A value as the outputs must hold it.
    enum Value: Hashable, Sendable {
        case text(String)
        case integer(Int64)
    }

    static let run = "transform-run"

    static func standard(_ face: Face) -> [(String, Value)] {
        [
            ("group_id", .text(face.groupID)), ("face_token", .text(face.face.faceToken)),
            ("user_id", .text(face.face.userID)), ("user_data", .text(face.face.userData)),
            ("add_time", .integer(face.face.addTime)), ("add_time_utc", .text(face.derived["utc"]!)),
        ]
    }

    static let cases: [Case] = [
        Case(name: "none", configure: { _ in }, expected: { standard($0) }),
        Case(
            name: "select",
            configure: { $0.select = ["user_id", "face_token", "add_time"] },
            expected: {
                [
                    ("user_id", .text($0.face.userID)), ("face_token", .text($0.face.faceToken)),
                    ("add_time", .integer($0.face.addTime)),
                ]
            }
        ),
        Case(
            name: "drop",
            configure: { $0.drop = ["user_data", "add_time_utc"] },
            expected: { standard($0).filter { !["user_data", "add_time_utc"].contains($0.0) } }
        ),
        Case(
            name: "rename",
            configure: { $0.rename = ["face_token": "face_id", "group_id": "library"] },
            expected: {
                standard($0).map { ($0.0 == "face_token" ? "face_id" : $0.0 == "group_id" ? "library" : $0.0, $0.1) }
            }
        ),
        Case(
            name: "constants and run metadata",
            configure: {
                $0.constants = [.init(name: "source", value: "finauth-sgp"), .init(name: "empty", value: "")]
                $0.metadata = [.account, .runID, .exportedAt]
            },
            expected: {
                standard($0) + [
                    ("account", .text("test")), ("run_id", .text(run)), ("exported_at", .text($0.derived["started"]!)),
                    ("source", .text("finauth-sgp")), ("empty", .text("")),
                ]
            }
        ),
        Case(
            name: "add_time as milliseconds only",
            configure: { $0.addTime = .milliseconds },
            expected: { standard($0).filter { $0.0 != "add_time_utc" } }
        ),
        Case(
            name: "add_time as RFC 3339 only, add_date in Asia/Kolkata",
            configure: {
                $0.addTime = .rfc3339
                $0.addDateTimeZone = "Asia/Kolkata"
            },
            expected: {
                standard($0).filter { $0.0 != "add_time" } + [("add_date", .text($0.derived["date_kolkata"]!))]
            }
        ),
        Case(
            name: "hash user_id, hex",
            configure: {
                $0.hash = ["user_id"]
                $0.hashKey = .environment("UNUSED")
            },
            expected: { face in
                standard(face).map { $0.0 == "user_id" ? ($0.0, .text(face.derived["user_id_hex"]!)) : $0 }
            }
        ),
        Case(
            name: "hash face_token, base64url",
            configure: {
                $0.hash = ["face_token"]
                $0.hashKey = .environment("UNUSED")
                $0.hashEncoding = .base64url
            },
            expected: { face in
                standard(face).map { $0.0 == "face_token" ? ($0.0, .text(face.derived["face_token_b64"]!)) : $0 }
            }
        ),
        Case(
            name: "redact user_data with a marker",
            configure: {
                $0.redact = ["user_data"]
                $0.redactMarker = "[redacted]"
            },
            expected: { standard($0).map { $0.0 == "user_data" ? ($0.0, .text("[redacted]")) : $0 } }
        ),
        Case(
            name: "truncate user_data to 5 characters",
            configure: { $0.truncate = ["user_data": 5] },
            expected: { face in
                standard(face).map { $0.0 == "user_data" ? ($0.0, .text(face.derived["user_data_5"]!)) : $0 }
            }
        ),
        Case(
            name: "filter: add_time window relative to the run, user_id pattern",
            configure: {
                $0.filter.since = .relative(seconds: 86_400)
                $0.filter.until = .absolute(milliseconds: startedAt)
                $0.filter.userIDPattern = "^u-[0-9]*[02468]$"
            },
            expected: { face in
                let time = face.face.addTime
                let id = face.face.userID
                let even =
                    id.hasPrefix("u-") && id.count > 2 && "02468".contains(id.last!)
                    && id.dropFirst(2).allSatisfy(\.isNumber)
                guard time >= startedAt - 86_400_000, time < startedAt, even else { return nil }
                return standard(face)
            }
        ),
        Case(
            name: "combined",
            configure: {
                $0.select = ["add_date", "face_token", "user_id", "user_data", "group_id", "source", "run_id"]
                $0.rename = ["face_token": "face_id", "user_id": "person", "add_date": "dt"]
                $0.constants = [.init(name: "source", value: "sgp")]
                $0.metadata = [.runID]
                $0.addDateTimeZone = "Asia/Kolkata"
                $0.hash = ["user_id", "face_token"]
                $0.hashKey = .file("/unused")
                $0.truncate = ["user_data": 5]
                $0.filter.until = .absolute(milliseconds: startedAt)
            },
            expected: { face in
                guard face.face.addTime < startedAt else { return nil }
                return [
                    ("dt", .text(face.derived["date_kolkata"]!)), ("face_id", .text(face.derived["face_token_hex"]!)),
                    ("person", .text(face.derived["user_id_hex"]!)), ("user_data", .text(face.derived["user_data_5"]!)),
                    ("group_id", .text(face.groupID)), ("source", .text("sgp")), ("run_id", .text(run)),
                ]
            }
        ),
    ]

    @Test(arguments: cases)
    func everyOperationThroughEverySinkMatchesIndependentValues(_ testCase: Case) async throws {
        var configuration = TransformConfiguration()
        testCase.configure(&configuration)
        let faces = try Self.derivedFaces()
        let expected = faces.compactMap(testCase.expected)
        let outputs = try await Self.export(configuration, key: Self.key)
        #expect(outputs.report.outcome == .complete)
        #expect(outputs.report.faces == expected.count)
        #expect(outputs.report.faces + outputs.report.filtered == faces.count)
        let names = expected.first.map { $0.map(\.0) } ?? []
        let wanted = expected.map { $0.map(\.1) }.sorted(by: Self.order)
        #expect(outputs.ndjsonKeys.allSatisfy { $0 == names }, "NDJSON keys in the declared order")
        #expect(outputs.ndjson.sorted(by: Self.order) == wanted)
        #expect(outputs.csvHeader == names)
        // CSV has no types: integers are their decimal text.
        #expect(outputs.csv.sorted(by: Self.order) == wanted.map { $0.map(Self.asText) }.sorted(by: Self.order))
        #expect(outputs.sqliteColumns.map(\.name) == names)
        let types: [String] = expected.first?.map { if case .integer = $0.1 { "INTEGER" } else { "TEXT" } } ?? []
        #expect(outputs.sqliteColumns.map(\.type) == types)
        #expect(outputs.sqlite.sorted(by: Self.order) == wanted)
        #expect(outputs.manifestSchema == names)
        #expect(outputs.manifestTransformDigest == configuration.digest)
    }

    @Test func hashesAreStableAcrossRunsAndDifferAcrossKeys() async throws {
        var configuration = TransformConfiguration()
        configuration.select = ["face_token", "user_id"]
        configuration.hash = ["user_id"]
        configuration.hashKey = .environment("UNUSED")
        func hashes(_ key: [UInt8]) async throws -> [String: Value] {
            let outputs = try await Self.export(configuration, key: key)
            return Dictionary(
                uniqueKeysWithValues: outputs.ndjson.map { row in
                    guard case .text(let token) = row[0] else { return ("", row[1]) }
                    return (token, row[1])
                }
            )
        }
        let first = try await hashes(Self.key)
        let second = try await hashes(Self.key)
        let other = try await hashes(Array("another-key-0123456789abcdef".utf8))
        #expect(first.count == Self.dataset.groups.reduce(0) { $0 + $1.faces.count })
        #expect(first == second)
        #expect(first.keys.allSatisfy { first[$0] != other[$0] })
    }

    @Test func aShortKeyIsRefused() {
        var configuration = TransformConfiguration()
        configuration.hash = ["user_id"]
        configuration.hashKey = .environment("UNUSED")
        #expect(throws: TransformError.self) {
            try RecordTransform(
                configuration: configuration,
                hashKey: Array("short".utf8),
                run: .init(runID: "r", startedAt: 0)
            )
        }
    }

    /// Truncation counts Unicode scalars in the UTF-8 bytes: the same cut as Swift's own
    /// `unicodeScalars.prefix`, for every hard string at every length.
    @Test func truncationCutsTheBytesWhereUnicodeScalarsEnd() {
        for text in DatasetGenerator.hardStrings + ["", "é", "😀x", "a\u{301}b", "日本語テキスト"] {
            for length in 0...(text.unicodeScalars.count + 1) {
                let expected = String(String.UnicodeScalarView(text.unicodeScalars.prefix(length)))
                let cut = withUTF8(of: text) {
                    String(decoding: RecordTransform.prefix($0, scalars: length), as: UTF8.self)
                }
                #expect(cut == expected, "\(Array(text.utf8)) at \(length)")
            }
        }
    }

    // MARK: - Exporting and reading back

    struct Outputs {
        var report: RunReport
        var ndjsonKeys: [[String]]
        var ndjson: [[Value]]
        var csvHeader: [String]
        var csv: [[Value]]
        var sqliteColumns: [(name: String, type: String)]
        var sqlite: [[Value]]
        var manifestSchema: [String]
        var manifestTransformDigest: String
    }

    static func export(_ configuration: TransformConfiguration, key: [UInt8]) async throws -> Outputs {
        let folder = try makeTemporaryDirectory()
        let transform = try RecordTransform(
            configuration: configuration,
            hashKey: key,
            run: .init(runID: Self.run, startedAt: Self.startedAt)
        )
        let result = try await exportFromSimulator(
            dataset: Self.dataset,
            pipeline: {
                $0.pageSize = 100
                $0.transform = transform
            },
            context: { $0.runID = Self.run },
            outputPath: folder + "/faces.ndjson.gz",
            extraOutputs: [
                .init(format: .csv, path: try OutputPathTemplate(folder + "/faces.csv.gz")),
                .init(format: .sqlite, path: try OutputPathTemplate(folder + "/faces.db")),
            ],
            manifestPath: folder + "/manifest.json"
        )
        let script = folder + "/read.py"
        try Self.reader.write(toFile: script, atomically: true, encoding: .utf8)
        let data = try runProgram("/usr/bin/python3", [script, folder])
        let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        func values(_ rows: Any?) -> [[Value]] {
            (rows as! [[Any]]).map { $0.map(Self.value) }
        }
        let ndjson = object["ndjson"] as! [[[Any]]]
        return Outputs(
            report: result.report,
            ndjsonKeys: ndjson.map { $0.map { $0[0] as! String } },
            ndjson: ndjson.map { $0.map { Self.value($0[1]) } },
            csvHeader: object["csv_header"] as! [String],
            csv: values(object["csv"]),
            sqliteColumns: (object["sqlite_columns"] as! [[String]]).map { ($0[0], $0[1]) },
            sqlite: values(object["sqlite"]),
            manifestSchema: object["manifest_schema"] as! [String],
            manifestTransformDigest: object["manifest_transform"] as! String
        )
    }

    static func value(_ any: Any) -> Value {
        if let text = any as? String { return .text(text) }
        return .integer((any as! NSNumber).int64Value)
    }

    static func asText(_ value: Value) -> Value {
        if case .integer(let number) = value { return .text(String(number)) }
        return value
    }

    static func order(_ left: [Value], _ right: [Value]) -> Bool {
        "\(left)" < "\(right)"
    }

    /// Every face of the dataset with Python's HMACs, truncation, timestamps and dates.
    static func derivedFaces() throws -> [Face] {
        let folder = try makeTemporaryDirectory()
        let faces = Self.dataset.groups.flatMap { group in group.faces.map { (group.groupID, $0) } }
        let input = faces.map {
            [
                "face_token": $0.1.faceToken, "user_id": $0.1.userID, "user_data": $0.1.userData,
                "add_time": $0.1.addTime,
            ] as [String: Any]
        }
        try JSONSerialization.data(withJSONObject: input).write(to: URL(fileURLWithPath: folder + "/faces.json"))
        try Self.deriver.write(toFile: folder + "/derive.py", atomically: true, encoding: .utf8)
        let output = try runProgram(
            "/usr/bin/python3",
            [
                folder + "/derive.py", folder + "/faces.json", String(decoding: Self.key, as: UTF8.self),
                String(Self.startedAt),
            ]
        )
        let derived = try JSONSerialization.jsonObject(with: output) as! [[String: String]]
        return zip(faces, derived).map { Face(groupID: $0.0.0, face: $0.0.1, derived: $0.1) }
    }

    static let deriver = #"""
        import base64, datetime, hashlib, hmac, json, sys, zoneinfo
        faces = json.load(open(sys.argv[1], encoding="utf-8"))
        key = sys.argv[2].encode()
        started = int(sys.argv[3])
        def mac(text):
            return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()
        def utc(ms):
            moment = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc)
            return moment.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (ms % 1000)
        kolkata = zoneinfo.ZoneInfo("Asia/Kolkata")
        out = []
        for face in faces:
            ms = face["add_time"]
            out.append({
                "utc": utc(ms),
                "started": utc(started),
                "date_kolkata": datetime.datetime.fromtimestamp(ms / 1000, kolkata).date().isoformat(),
                "user_id_hex": mac(face["user_id"]).hex(),
                "face_token_hex": mac(face["face_token"]).hex(),
                "face_token_b64": base64.urlsafe_b64encode(mac(face["face_token"])).decode().rstrip("="),
                "user_data_5": face["user_data"][:5],
            })
        json.dump(out, sys.stdout)
        """#

    static let reader = #"""
        import csv, gzip, io, json, sqlite3, sys
        folder = sys.argv[1]
        result = {}
        with gzip.open(folder + "/faces.ndjson.gz", "rt", encoding="utf-8", newline="") as f:
            result["ndjson"] = [json.loads(line, object_pairs_hook=list) for line in f.read().split("\n") if line]
        with gzip.open(folder + "/faces.csv.gz", "rt", encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
        result["csv_header"], result["csv"] = rows[0], rows[1:]
        db = sqlite3.connect(folder + "/faces.db")
        columns = db.execute("SELECT name, type FROM pragma_table_info('faces') ORDER BY cid").fetchall()
        own = [c for c in columns if c[0] not in ("first_seen_run", "last_seen_run", "deleted_run", "change", "change_run")]
        result["sqlite_columns"] = [list(c) for c in own]
        names = ", ".join('"%s"' % c[0] for c in own)
        result["sqlite"] = [list(r) for r in db.execute("SELECT %s FROM faces" % names)]
        manifest = json.load(open(folder + "/manifest.json"))
        result["manifest_schema"] = [c["name"] for c in manifest["schema"]]
        result["manifest_transform"] = manifest["transform_sha256"]
        json.dump(result, sys.stdout)
        """#
}
