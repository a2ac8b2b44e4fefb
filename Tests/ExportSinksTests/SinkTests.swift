import FaceSearchSimulation
import Foundation
import TestSupport
import Testing

@testable import ExportSinks

/// The sinks on their own: formats read back by independent readers, atomic commit, file names.
struct SinkTests {
    static let run = OutputPathTemplate.RunValues(date: "2026-11-26", runID: "r1", pipeline: "nightly")

    static func sink(
        _ format: OutputSink.Format,
        _ path: String,
        runID: String = "r1",
        configure: (inout OutputSink.Configuration) -> Void = { _ in }
    )
        throws -> OutputSink
    {
        var configuration = OutputSink.Configuration(format: format, path: try OutputPathTemplate(path))
        configure(&configuration)
        return OutputSink(
            configuration: configuration,
            run: .init(date: "2026-11-26", runID: runID, pipeline: "nightly")
        )
    }

    @Test(arguments: ["faces.ndjson", "faces.ndjson.gz"])
    func ndjsonRoundTripsByteForByte(name: String) throws {
        let path = try makeTemporaryDirectory() + "/nested/" + name
        let sink = try Self.sink(.ndjson, path)
        let records = StandardRecord.hardRecords()
        try sink.write(Array(records.prefix(10)), from: RecordSource(account: "a", groupID: "g0"))
        try sink.write(Array(records.dropFirst(10)), from: RecordSource(account: "a", groupID: "g0"))
        let summary = try #require(try sink.commit(CommitContext.sample()).first)
        #expect(summary.rows == records.count)
        #expect(summary.bytes == (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int))
        let sha = String(decoding: try runProgram("/usr/bin/sha256sum", [path]), as: UTF8.self).prefix(64)
        #expect(summary.sha256 == sha)
        if name.hasSuffix(".gz") { _ = try runProgram("/bin/gzip", ["-t", path]) }
        let rows = try readNDJSON(path)
        #expect(rows.map(\.userID) == records.map { Array($0.userID.utf8) })
        #expect(rows.map(\.userData) == records.map { Array($0.userData.utf8) })
    }

    static let engines: [GzipCompression] = [
        .standard, GzipCompression(engine: .isal, level: 0)!, GzipCompression(engine: .isal, level: 1)!,
        GzipCompression(engine: .isal, level: 3)!, GzipCompression(engine: .libdeflate, level: 1)!,
        GzipCompression(engine: .libdeflate)!, GzipCompression(engine: .libdeflate, level: 12)!,
        GzipCompression(engine: .zlib, level: 1)!, GzipCompression(engine: .zlib)!,
        GzipCompression(engine: .zlib, level: 9)!,
    ]

    /// Every engine and level writes gzip that gzip accepts and that holds exactly the bytes of the
    /// uncompressed file: across checkpoints (member ends), more than libdeflate's 1 MiB member, and empty.
    @Test(arguments: engines, [OutputSink.Format.ndjson, .csv])
    func everyGzipEngineHoldsExactlyTheUncompressedBytes(compression: GzipCompression, format: OutputSink.Format) throws
    {
        let folder = try makeTemporaryDirectory()
        let source = RecordSource(account: "a", groupID: "g0")
        let batches = (0..<30).map { StandardRecord.hardRecords(group: "g\($0)") }
        func export(_ path: String, _ compression: GzipCompression?) throws -> OutputSink {
            let sink = try Self.sink(format, path) { if let compression { $0.compression = compression } }
            for _ in 0..<40 { try sink.write(batches.flatMap { $0 }, from: source) }
            _ = try sink.checkpoint(source, finished: false)
            try sink.write(batches[0], from: source)
            _ = try sink.checkpoint(source, finished: false)
            _ = try sink.checkpoint(source, finished: false)
            try sink.write(batches[1], from: source)
            return sink
        }
        let plain = folder + "/plain." + format.rawValue
        _ = try export(plain, nil).commit(CommitContext.sample())
        let packed = folder + "/packed.\(format.rawValue).gz"
        _ = try export(packed, compression).commit(CommitContext.sample())
        _ = try runProgram("/bin/gzip", ["-t", packed])
        let expected = try Data(contentsOf: URL(fileURLWithPath: plain))
        #expect(expected.count > 2 << 20, "more than libdeflate's member size")
        #expect(try runProgram("/bin/gzip", ["-dc", packed]) == expected)

        let empty = folder + "/empty.\(format.rawValue)"
        _ = try Self.sink(format, empty).commit(CommitContext.sample())
        _ = try Self.sink(format, empty + ".gz") { $0.compression = compression }.commit(CommitContext.sample())
        _ = try runProgram("/bin/gzip", ["-t", empty + ".gz"])
        #expect(try runProgram("/bin/gzip", ["-dc", empty + ".gz"]) == Data(contentsOf: URL(fileURLWithPath: empty)))
    }

    @Test func aTemplateKnowsThePathsItMakesForARunWhateverTheLibrary() throws {
        let run = OutputPathTemplate.RunValues(date: "2026-11-26", runID: "r1", pipeline: "night/ly", shard: "1-of-4")
        let perLibrary = try OutputPathTemplate("dt={date}/group={group}/part-{shard}.parquet")
        for group in ["grp-0001", "g", "ünïcode id", "a.b"] {
            let path = perLibrary.resolve(run, account: nil, group: group)
            #expect(perLibrary.matches(path, run), "\(path)")
        }
        #expect(!perLibrary.matches("dt=2026-11-25/group=g/part-1-of-4.parquet", run), "another night")
        #expect(!perLibrary.matches("dt=2026-11-26/group=/part-1-of-4.parquet", run), "no library")
        #expect(!perLibrary.matches("dt=2026-11-26/group=a/b/part-1-of-4.parquet", run), "two folder levels")
        #expect(!perLibrary.matches("dt=2026-11-26/group=g/part-0-of-4.parquet", run), "another shard")
        let night = try OutputPathTemplate("{pipeline}/{account}-{run_id}.ndjson.gz")
        #expect(night.matches(night.resolve(run, account: "eu", group: nil), run))
        #expect(!night.matches(night.resolve(run, account: "eu", group: nil) + ".tmp", run))
    }

    @Test func aTemplateKnowsThePathsItMakesForAnyRunOfItsPipelineAndShard() throws {
        let run = OutputPathTemplate.RunValues(date: "", runID: "", pipeline: "nightly", shard: "1-of-4")
        let template = try OutputPathTemplate("{pipeline}/dt={date}/group={group}/{run_id}-{shard}.parquet")
        let other = OutputPathTemplate.RunValues(date: "2026-12-06", runID: "r9", pipeline: "nightly", shard: "1-of-4")
        #expect(template.matchesAnyRun(template.resolve(other, account: nil, group: "g"), of: run))
        #expect(!template.matchesAnyRun("nightly/dt=2026-12-06/group=g/r9-2-of-4.parquet", of: run), "another shard")
        #expect(!template.matchesAnyRun("daily/dt=2026-12-06/group=g/r9-1-of-4.parquet", of: run), "another pipeline")
        #expect(!template.matchesAnyRun("nightly/dt=/group=g/r9-1-of-4.parquet", of: run), "no date")
        #expect(!template.matchesAnyRun("nightly/dt=a/b/group=g/r9-1-of-4.parquet", of: run), "two folder levels")
    }

    @Test func theTemporaryFilesOfARunWhoseIDIsLostAreFoundByTheirOutputsPaths() throws {
        let folder = try makeTemporaryDirectory()
        try FileManager.default.createDirectory(atPath: folder + "/dt=2026-12-05", withIntermediateDirectories: true)
        let names = [
            "/.faces.ndjson.gz.tmp-20261205T010000Z-abcdef", "/dt=2026-12-05/.faces.sqlite.tmp-r7-wal",
            "/dt=2026-12-05/.faces.sqlite.tmp-r7", "/.notes.txt.tmp-r7", "/faces.ndjson.gz", "/.faces.ndjson.gz",
        ]
        for name in names { try Data("x".utf8).write(to: URL(fileURLWithPath: folder + name)) }
        let outputs = [try OutputPathTemplate("faces.ndjson.gz"), try OutputPathTemplate("dt={date}/faces.sqlite")]
        let run = OutputPathTemplate.RunValues(date: "", runID: "", pipeline: "p")
        LeftoverFiles.removeOfAnyRun(under: folder, steps: FileSteps(observer: nil)) { relative in
            outputs.contains { $0.matchesAnyRun(relative, of: run) }
        }
        let left = Set(try FileManager.default.subpathsOfDirectory(atPath: folder))
        #expect(left == ["dt=2026-12-05", ".notes.txt.tmp-r7", "faces.ndjson.gz", ".faces.ndjson.gz"])
    }

    @Test func csvFollowsRFC4180AndPythonReadsItBack() throws {
        let folder = try makeTemporaryDirectory()
        let path = folder + "/faces.csv.gz"
        let sink = try Self.sink(.csv, path) { $0.compression = GzipCompression(engine: .zlib, level: 9)! }
        let records = StandardRecord.hardRecords()
        try sink.write(records, from: RecordSource(account: "a", groupID: "g0"))
        _ = try sink.commit(CommitContext.sample())
        _ = try runProgram("/bin/gzip", ["-t", path])
        let raw = try runProgram("/bin/gzip", ["-dc", path])
        #expect(raw.starts(with: Array("group_id,face_token,user_id,user_data,add_time,add_time_utc\r\n".utf8)))
        #expect(raw.prefix(3) != Data([0xEF, 0xBB, 0xBF]), "no byte-order mark")
        // Python's csv module, an independent reader, turns every row back into the exact strings.
        let script = """
            import csv, gzip, json, sys
            with gzip.open(sys.argv[1], 'rt', encoding='utf-8', newline='') as f:
                rows = list(csv.reader(f))
            json.dump(rows, sys.stdout, ensure_ascii=True)
            """
        let parsed =
            try JSONSerialization.jsonObject(with: try runProgram("/usr/bin/python3", ["-c", script, path]))
            as? [[String]]
        let rows = try #require(parsed)
        #expect(rows.first == RecordSchema.standard.names)
        #expect(rows.count == records.count + 1)
        for (row, record) in zip(rows.dropFirst(), records) {
            #expect(Array(row[2].utf8) == Array(record.userID.utf8))
            #expect(Array(row[3].utf8) == Array(record.userData.utf8))
            #expect(row[4] == String(record.addTime))
        }
    }

    /// Integers are written without a `String`; they must read exactly as Swift (and JSON) spell them.
    @Test(arguments: [0, 7, -1, 10, -10, 1_767_225_600_000, Int64.max, Int64.min])
    func integersAreWrittenAsDecimals(number: Int64) {
        let encoder = NDJSONEncoder(schema: RecordSchema(columns: [.init(name: "n", type: .integer, origin: .addTime)]))
        #expect(encoder.line([.integer(number)]) == "{\"n\":\(number)}\n")
    }

    @Test func csvEscapesFormulasOnlyWhenAsked() throws {
        let folder = try makeTemporaryDirectory()
        let record = StandardRecord(
            groupID: "g",
            faceToken: "t",
            userID: "=SUM(A1)",
            userData: "-1,5",
            addTime: 1,
            addTimeUTC: "x"
        )
        for (escape, expected) in [(false, "g,t,=SUM(A1),\"-1,5\",1,x\r\n"), (true, "g,t,'=SUM(A1),\"'-1,5\",1,x\r\n")]
        {
            let path = folder + "/f-\(escape).csv"
            let sink = try Self.sink(.csv, path) { $0.escapeFormulas = escape }
            try sink.write([record], from: RecordSource(account: "a", groupID: "g"))
            _ = try sink.commit(CommitContext.sample())
            let text = try String(contentsOfFile: path, encoding: .utf8)
            #expect(text.components(separatedBy: "\r\n")[1] + "\r\n" == expected)
        }
    }

    /// `quick_check` (the default) checks pages, records and constraints; an index whose entries no
    /// longer match their rows takes `integrity_check: full` to find, and then nothing is committed.
    @Test func sqliteFullCheckFindsAnIndexThatDisagreesWithItsRowsAndCommitsNothing() throws {
        let path = try makeTemporaryDirectory() + "/faces.sqlite"
        let first = try Self.sink(.sqlite, path) { $0.sqliteMode = .merge }
        try first.write(StandardRecord.hardRecords(), from: RecordSource(account: "a", groupID: "g0"))
        _ = try first.commit(CommitContext.sample())
        // A user's own index, declared on another column than its entries hold: every old row
        // disagrees with it. (Not `faces_user_id`: a merge drops that one and builds it again.)
        _ = try runProgram(
            "/usr/bin/sqlite3",
            [
                path,
                "CREATE INDEX faces_user_data ON faces (user_data); PRAGMA writable_schema = ON; "
                    + "UPDATE sqlite_schema SET sql = 'CREATE INDEX faces_user_data ON faces (user_id)' "
                    + "WHERE name = 'faces_user_data';",
            ]
        )
        let damaged = try Data(contentsOf: URL(fileURLWithPath: path))
        let full = try Self.sink(.sqlite, path, runID: "r2") {
            $0.sqliteMode = .merge
            $0.sqliteCheck = .full
            $0.changesPath = try? OutputPathTemplate(
                (path as NSString).deletingLastPathComponent + "/changes.ndjson.gz"
            )
        }
        try full.write(StandardRecord.hardRecords(group: "g1"), from: RecordSource(account: "a", groupID: "g1"))
        let error = #expect(throws: SinkError.self) { try full.commit(CommitContext.sample(runID: "r2")) }
        #expect(error?.description.contains("integrity_check") == true, "\(String(describing: error))")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == damaged)
        // Nothing of the failed commit stays: not the database's copy, not its changes file.
        let folder = (path as NSString).deletingLastPathComponent
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["faces.sqlite"])
        // The default check reads every page and record, not every index entry: it lets this file through.
        let quick = try Self.sink(.sqlite, path, runID: "r3") { $0.sqliteMode = .merge }
        try quick.write(StandardRecord.hardRecords(group: "g1"), from: RecordSource(account: "a", groupID: "g1"))
        #expect(try quick.commit(CommitContext.sample(runID: "r3")).first?.rows == StandardRecord.hardRecords().count)
    }

    @Test func sqliteHasTheSchemaAndTheSQLiteToolReadsIt() throws {
        let path = try makeTemporaryDirectory() + "/faces.sqlite"
        let sink = try Self.sink(.sqlite, path)
        let records = StandardRecord.hardRecords()
        try sink.write(records, from: RecordSource(account: "a", groupID: "g0"))
        let group = CommitContext.Group(
            account: "a",
            groupID: "g0",
            status: "complete",
            walkedToItsEnd: true,
            expected: records.count,
            exported: records.count,
            error: nil
        )
        let summary = try #require(try sink.commit(CommitContext.sample(groups: [group])).first)
        #expect(summary.rows == records.count)
        let sqlite = "/usr/bin/sqlite3"
        #expect(String(decoding: try runProgram(sqlite, [path, "PRAGMA integrity_check"]), as: UTF8.self) == "ok\n")
        #expect(String(decoding: try runProgram(sqlite, [path, "PRAGMA journal_mode"]), as: UTF8.self) == "delete\n")
        #expect(
            String(decoding: try runProgram(sqlite, [path, "SELECT count(*) FROM faces"]), as: UTF8.self)
                == "\(records.count)\n"
        )
        let indexes = String(
            decoding: try runProgram(
                sqlite,
                [path, "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"]
            ),
            as: UTF8.self
        )
        #expect(indexes.contains("faces_user_id"))
        let groups = String(
            decoding: try runProgram(
                sqlite,
                [path, "SELECT account, group_id, status, expected, exported FROM groups"]
            ),
            as: UTF8.self
        )
        #expect(groups == "a|g0|complete|\(records.count)|\(records.count)\n")
        let runs = String(
            decoding: try runProgram(sqlite, [path, "SELECT run_id, pipeline, outcome, faces FROM runs"]),
            as: UTF8.self
        )
        #expect(runs == "r1|nightly|complete|\(records.count)\n")
        // Field by field, through the sqlite3 tool's JSON output (hex keeps the bytes exact).
        let json = try runProgram(
            sqlite,
            [
                "-json", path,
                "SELECT face_token, hex(user_id) AS user_id, hex(user_data) AS user_data, add_time FROM faces",
            ]
        )
        let rows = try #require(try JSONSerialization.jsonObject(with: json) as? [[String: Any]])
        let byToken = Dictionary(uniqueKeysWithValues: rows.map { ($0["face_token"] as! String, $0) })
        for record in records {
            let row = try #require(byToken[record.faceToken])
            #expect(row["user_id"] as? String == Self.hex(record.userID))
            #expect(row["user_data"] as? String == Self.hex(record.userData))
            #expect((row["add_time"] as? NSNumber)?.int64Value == record.addTime)
        }
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: (path as NSString).deletingLastPathComponent) == [
                "faces.sqlite"
            ]
        )
    }

    static func hex(_ text: String) -> String { text.utf8.map { String(format: "%02X", $0) }.joined() }

    @Test func filesArePrivateAndAppearOnlyOnCommit() throws {
        let folder = try makeTemporaryDirectory()
        let sink = try Self.sink(.ndjson, folder + "/faces.ndjson")
        try sink.write(StandardRecord.hardRecords(), from: RecordSource(account: "a", groupID: "g0"))
        #expect(!FileManager.default.fileExists(atPath: folder + "/faces.ndjson"))
        _ = try sink.commit(CommitContext.sample())
        #expect(
            (try FileManager.default.attributesOfItem(atPath: folder + "/faces.ndjson")[.posixPermissions] as? Int)
                == 0o600
        )
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["faces.ndjson"])
    }

    @Test(arguments: [OutputSink.Format.ndjson, .csv, .sqlite])
    func discardLeavesThePreviousOutputExactlyAsItWas(format: OutputSink.Format) throws {
        let folder = try makeTemporaryDirectory()
        let path = folder + "/faces.out"
        let first = try Self.sink(format, path, runID: "r1")
        try first.write(Array(StandardRecord.hardRecords().prefix(3)), from: RecordSource(account: "a", groupID: "g0"))
        _ = try first.commit(CommitContext.sample())
        let before = try Data(contentsOf: URL(fileURLWithPath: path))

        let second = try Self.sink(format, path, runID: "r2")
        try second.write(StandardRecord.hardRecords(), from: RecordSource(account: "a", groupID: "g0"))
        second.discard()
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["faces.out"])
    }

    @Test func groupIDsBecomeSafeDistinctFileNames() throws {
        let ids = ["../x", "a/b", "CON", "con.txt", "Case", "case", ".hidden", "lib%20x", "team@a#b&c", "grp-0001"]
        let names = ids.map(SafeFileName.make)
        #expect(Set(names).count == ids.count)
        #expect(
            Set(names.map { $0.lowercased() }).count == ids.count,
            "distinct even on a case-insensitive file system"
        )
        for name in names {
            #expect(!name.contains("/") && !name.contains("\\"))
            #expect(!name.hasPrefix("."))
            #expect(
                !["CON", "PRN", "AUX", "NUL"].contains(name.split(separator: ".").first.map { $0.uppercased() } ?? "")
            )
        }
        #expect(SafeFileName.make("grp-0001") == "grp-0001")
        #expect(SafeFileName.make("../x") == "%2E.%2Fx")
        #expect(SafeFileName.make("CON") == "_CON~" + SafeFileName.make("CON").suffix(8))

        // One file per library, under those names, inside the output folder.
        let folder = try makeTemporaryDirectory()
        let sink = try Self.sink(.ndjson, folder + "/dt={date}/group={group}/faces.ndjson")
        for id in ids {
            try sink.write(StandardRecord.hardRecords(group: id), from: RecordSource(account: "a", groupID: id))
            try sink.groupFinished(RecordSource(account: "a", groupID: id))
        }
        let summaries = try sink.commit(CommitContext.sample())
        #expect(Set(summaries.map(\.path)) == Set(names.map { folder + "/dt=2026-11-26/group=\($0)/faces.ndjson" }))
        let partitions = try FileManager.default.contentsOfDirectory(atPath: folder + "/dt=2026-11-26")
        #expect(Set(partitions) == Set(names.map { "group=\($0)" }))
    }

    @Test func templatesRejectUnknownPlaceholders() {
        #expect(throws: TemplateError.self) { try OutputPathTemplate("out/{day}/f.csv") }
        #expect(throws: TemplateError.self) { try OutputPathTemplate("out/{date/f.csv") }
        #expect(throws: Never.self) {
            try OutputPathTemplate("dt={date}/run={run_id}/{pipeline}-{account}-{group}.csv.gz")
        }
    }
}

/// The NDJSON encoder's escaping, eight bytes at a time, against a byte-by-byte reference.
struct JSONEscapingTests {
    /// RFC 8259 escaping one byte at a time: the reference the encoder must match byte for byte.
    static func reference(_ text: String) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "\"")]
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += Array("\\\"".utf8)
            case UInt8(ascii: "\\"): out += Array("\\\\".utf8)
            case UInt8(ascii: "\n"): out += Array("\\n".utf8)
            case UInt8(ascii: "\r"): out += Array("\\r".utf8)
            case UInt8(ascii: "\t"): out += Array("\\t".utf8)
            case 0..<0x20: out += Array(String(format: "\\u%04x", byte).utf8)
            default: out.append(byte)
            }
        }
        return out + [UInt8(ascii: "\"")]
    }

    @Test func everySpecialByteAtEveryPlaceOfAWordIsEscaped() throws {
        let specials = [
            "\"", "\\", "\n", "\r", "\t", "\u{0}", "\u{1}", "\u{1F}", " ", "!", "#", "[", "]", "é", "字", "😀", "\u{7F}",
        ]
        for special in specials {
            for before in 0..<18 {
                for after in [0, 1, 7, 8, 9, 16] {
                    let text = String(repeating: "a", count: before) + special + String(repeating: "z", count: after)
                    var encoded: [UInt8] = []
                    NDJSONEncoder.appendString(text, to: &encoded)
                    #expect(encoded == Self.reference(text), "\(Array(text.utf8))")
                    let decoded = try JSONSerialization.jsonObject(with: Data(encoded), options: [.fragmentsAllowed])
                    #expect(decoded as? String == text)
                }
            }
        }
    }
}

/// Records are written into room reserved for their worst case: values far larger than the
/// writer's buffer, all escapes or all quotes, between ordinary rows, come out byte for byte.
struct LargeRecordTests {
    @Test(arguments: [1, 70_000, 300_000])
    func largeValuesBetweenOrdinaryRowsAreWrittenExactly(size: Int) {
        let worst = String(repeating: "\u{1}\"\\", count: size / 3)
        let values: [[FieldValue]] = [
            [.text("small"), .integer(1)], [.text(worst), .integer(Int64.min)], [.text("é"), .integer(Int64.max)],
            [.text(String(repeating: "x", count: size)), .integer(-7)],
        ]
        var rows = RecordRows(width: 2)
        for row in values { rows.append(row: row) }
        let schema = RecordSchema(columns: [
            .init(name: "v", type: .text, origin: .constant), .init(name: "n", type: .integer, origin: .constant),
        ])
        var json: [UInt8] = []
        var csv: [UInt8] = []
        let ndjson = NDJSONEncoder(schema: schema)
        let csvEncoder = CSVEncoder(schema: schema, escapeFormulas: true)
        rows.withReader { reader in
            for row in 0..<reader.count {
                ndjson.encode(row: row, of: reader, into: &json)
                csvEncoder.encode(row: row, of: reader, into: &csv)
            }
        }
        var expectedJSON: [UInt8] = []
        var expectedCSV: [UInt8] = []
        for row in values {
            guard case .text(let text) = row[0], case .integer(let number) = row[1] else { continue }
            expectedJSON +=
                Array(#"{"v":"#.utf8) + JSONEscapingTests.reference(text) + Array(",\"n\":\(number)}\n".utf8)
            let quoted = text.utf8.contains { [0x2C, 0x22, 0x0D, 0x0A].contains($0) }
            let body = quoted ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
            expectedCSV += Array((body + ",\(number)\r\n").utf8)
        }
        #expect(json == expectedJSON)
        #expect(csv == expectedCSV)
    }
}

/// The CSV encoder's quoting, eight bytes at a time, against a byte-by-byte reference.
struct CSVQuotingTests {
    @Test func everyByteThatNeedsQuotesIsFoundWhereverItFalls() {
        let schema = RecordSchema(columns: [.init(name: "v", type: .text, origin: .constant)])
        let encoder = CSVEncoder(schema: schema, escapeFormulas: false)
        for special in [",", "\"", "\r", "\n", "\r\n", ";", "'", "é", "😀", "\t", "\u{0}"] {
            for before in 0..<18 {
                for after in [0, 1, 7, 8, 9] {
                    let text = String(repeating: "a", count: before) + special + String(repeating: "z", count: after)
                    let line = Array(encoder.line([.text(text)]).utf8)
                    let quoted = text.utf8.contains { [0x2C, 0x22, 0x0D, 0x0A].contains($0) }
                    let body = quoted ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
                    #expect(line == Array((body + "\r\n").utf8), "\(Array(text.utf8))")
                }
            }
        }
    }
}

/// Merge mode marks the faces a complete library no longer has; a new file skips that sweep, a
/// resumed run's file (its own rows and the earlier ones) does not.
struct SQLiteRemovedFacesTests {
    private static func rows(_ tokens: [String]) -> RecordRows {
        var rows = RecordRows(width: RecordSchema.standard.columns.count)
        for (index, token) in tokens.enumerated() {
            rows.append(row: [
                .text("g"), .text(token), .text("u\(index)"), .text("data \(token)"), .integer(Int64(index)),
                .text("1970-01-01T00:00:00.000Z"),
            ])
        }
        return rows
    }

    private static func commit(_ writer: SQLiteWriter, runID: String) throws {
        let context = CommitContext(
            runID: runID,
            pipeline: "p",
            startedAt: "2026-11-29T00:00:00.000Z",
            finishedAt: "2026-11-29T00:00:01.000Z",
            outcome: "complete",
            groups: [
                .init(
                    account: "a",
                    groupID: "g",
                    status: "complete",
                    walkedToItsEnd: true,
                    expected: 2,
                    exported: 2,
                    error: nil
                )
            ],
            pages: 1,
            requests: 3,
            retries: 0
        )
        for file in try writer.prepareCommit(context) {
            #expect(rename(file.temporaryPath, file.summary.path) == 0)
        }
    }

    @Test func aResumedMergeRunStillMarksTheFacesThatAreGone() throws {
        let path = try makeTemporaryDirectory() + "/faces.sqlite"
        let first = try SQLiteWriter(path: path, schema: .standard, runID: "r1", merge: true, mode: 0o644)
        try first.write(Self.rows(["A", "B", "C"]))
        try Self.commit(first, runID: "r1")

        // The second run writes A and B, commits them at a checkpoint, and dies.
        var interrupted: SQLiteWriter? = try SQLiteWriter(
            path: path,
            schema: .standard,
            runID: "r2",
            merge: true,
            mode: 0o644
        )
        try interrupted?.write(Self.rows(["A", "B"]))
        _ = try interrupted?.checkpoint(storing: false)
        interrupted = nil
        let resume = FileCheckpoint(account: nil, group: nil, bytes: 0, rows: 2, finished: false)
        let resumed = try SQLiteWriter(
            path: path,
            schema: .standard,
            runID: "r2",
            merge: true,
            mode: 0o644,
            resume: resume
        )
        try Self.commit(resumed, runID: "r2")

        let faces = try sqliteRows(
            path,
            "SELECT face_token, change, deleted_run FROM faces ORDER BY face_token"
        )
        #expect(faces.map { $0["face_token"] as? String } == ["A", "B", "C"])
        #expect(faces.map { $0["change"] as? String } == ["added", "added", "removed"])
        #expect(faces.map { $0["deleted_run"] as? String } == [nil, nil, "r2"])
        // The `user_id` index, dropped for the merge's load, is back.
        let indexes = try sqliteRows(
            path,
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'faces' AND name = 'faces_user_id'"
        )
        #expect(indexes.count == 1)
        #expect(
            try sqliteRows(path, "PRAGMA integrity_check").first?["integrity_check"] as? String
                == "ok"
        )
    }
}

/// SQLite's "database or disk is full" reaches the user in plain words.
struct SQLiteFullDiskTests {
    @Test func aFullDatabaseSaysTheDiskIsFull() throws {
        let path = try makeTemporaryDirectory() + "/full.sqlite"
        let database = try SQLiteDatabase(path: path)
        // A page limit makes SQLite answer SQLITE_FULL as a full disk would.
        try database.execute("PRAGMA max_page_count = 3; CREATE TABLE t (v TEXT)")
        let bulk = String(repeating: "x", count: 20_000)
        let error = #expect(throws: SinkError.self) {
            for _ in 0..<20 { try database.execute("INSERT INTO t VALUES ('\(bulk)')") }
        }
        #expect(
            error?.description == "SQLite could not write \(path): the disk is full; free space there and run again"
        )
        let insert = try database.prepare("INSERT INTO t VALUES (?1)")
        insert.bind(bulk, at: 1)
        let stepped = #expect(throws: SinkError.self) { try insert.step() }
        #expect(stepped?.description.contains("the disk is full") == true)
    }
}
