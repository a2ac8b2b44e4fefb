import ExportPipeline
import ExportSinks
import FaceSearch
import FaceSearchSimulation
import Foundation
import TestSupport
import Testing

/// Several sinks in one run, SQLite merge across runs, and the run manifest.
@Suite(.timeLimit(.minutes(10)))
struct OutputIntegrationTests {
    @Test func ndjsonCSVAndSQLiteFromOneRunAgreeRowForRow() async throws {
        let dataset = DatasetGenerator(groups: 12, faces: 300, sizing: .mixed, seed: 21).make()
        let folder = try makeTemporaryDirectory()
        let result = try await exportFromSimulator(
            dataset: dataset,
            pipeline: { $0.pageSize = 100 },
            outputPath: folder + "/faces.ndjson.gz",
            extraOutputs: [
                .init(format: .csv, path: try OutputPathTemplate(folder + "/faces.csv.gz")),
                .init(format: .sqlite, path: try OutputPathTemplate(folder + "/faces.sqlite")),
            ],
            manifestPath: folder + "/manifest.json"
        )
        #expect(result.report.outcome == .complete)
        #expect(result.report.files.map(\.format) == ["ndjson", "csv", "sqlite"])
        #expect(result.report.files.allSatisfy { $0.rows == dataset.faceCount })

        let fromNDJSON = result.rows.map {
            [
                String(decoding: $0.groupID, as: UTF8.self), $0.faceToken, String(decoding: $0.userID, as: UTF8.self),
                String(decoding: $0.userData, as: UTF8.self), String($0.addTime), $0.addTimeUTC,
            ]
        }
        let fromCSV = try csvRows(folder + "/faces.csv.gz")
        #expect(fromCSV == fromNDJSON, "same rows in the same order")
        let fromSQLite = try sqliteRows(
            folder + "/faces.sqlite",
            "SELECT group_id, face_token, user_id, user_data, add_time, add_time_utc FROM faces"
        ).map { row in
            [
                row["group_id"] as! String, row["face_token"] as! String, row["user_id"] as! String,
                row["user_data"] as! String,
                String((row["add_time"] as! NSNumber).int64Value), row["add_time_utc"] as! String,
            ]
        }
        #expect(
            Set(fromSQLite.map { $0.joined(separator: "\u{0}") })
                == Set(fromNDJSON.map { $0.joined(separator: "\u{0}") })
        )
        #expect(fromSQLite.count == fromNDJSON.count)

        // The manifest describes the files exactly, and _SUCCESS marks the complete run.
        let manifest = try #require(
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/manifest.json")))
                as? [String: Any]
        )
        #expect(manifest["outcome"] as? String == "complete")
        let files = try #require(manifest["files"] as? [[String: Any]])
        for file in files {
            let path = try #require(file["path"] as? String)
            let sha = String(decoding: try runProgram("/usr/bin/sha256sum", [path]), as: UTF8.self).prefix(64)
            #expect(file["sha256"] as? String == String(sha))
            #expect(file["bytes"] as? Int == (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int))
        }
        let groups = try #require(manifest["groups"] as? [[String: Any]])
        #expect(groups.count == 12)
        #expect(
            groups.allSatisfy {
                $0["status"] as? String == "complete" && $0["expected"] as? Int == $0["exported"] as? Int
            }
        )
        #expect(FileManager.default.fileExists(atPath: folder + "/_SUCCESS"))
    }

    @Test func aPartialRunWritesItsManifestButNoSuccessMarker() async throws {
        let dataset = DatasetGenerator(groups: 3, faces: 20, sizing: .exact, seed: 22).make()
        let folder = try makeTemporaryDirectory()
        let result = try await exportFromSimulator(
            dataset: dataset,
            groups: .list(dataset.groups.map(\.groupID) + ["missing"]),
            outputPath: folder + "/faces.ndjson",
            manifestPath: folder + "/manifest.json"
        )
        #expect(result.report.outcome == .partial)
        let manifest =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/manifest.json")))
            as? [String: Any]
        #expect(manifest?["outcome"] as? String == "partial")
        #expect(!FileManager.default.fileExists(atPath: folder + "/_SUCCESS"))
    }

    /// Three nightly runs against a library that changes between them.
    @Test func sqliteMergeTracksFirstAndLastSightingsAndDeletions() async throws {
        var dataset = DatasetGenerator(groups: 2, faces: 40, sizing: .exact, seed: 23).make()
        let folder = try makeTemporaryDirectory()
        let path = folder + "/faces.sqlite"
        let merge: OutputSink.Configuration = {
            var configuration = OutputSink.Configuration(format: .sqlite, path: try! OutputPathTemplate(path))
            configuration.sqliteMode = .merge
            return configuration
        }()
        func run(_ dataset: Dataset, groups: AccountJob.Groups = .all) async throws -> String {
            let result = try await exportFromSimulator(
                dataset: dataset,
                groups: groups,
                outputPath: folder + "/faces.ndjson",
                extraOutputs: [merge]
            )
            #expect(result.report.outcome != .failed)
            return result.report.runID
        }
        let first = try await run(dataset)
        let removed = dataset.groups[0].faces.remove(at: 5)
        let added = SimulatedFace(
            faceToken: "feedface00000000feedface00000000",
            userID: "new",
            userData: "added",
            addTime: 1_800_000_000_000
        )
        dataset.groups[0].faces.append(added)
        let second = try await run(dataset)
        // The third run walks only the second library, and the first one is unknown to it: its faces keep their state.
        dataset.groups[1].faces.removeLast()
        let third = try await run(dataset, groups: .list([dataset.groups[1].groupID]))

        func face(_ token: String) throws -> [String: Any] {
            try #require(try sqliteRows(path, "SELECT * FROM faces WHERE face_token = '\(token)'").first)
        }
        let unchanged = try face(dataset.groups[0].faces[0].faceToken)
        #expect(unchanged["first_seen_run"] as? String == first)
        #expect(unchanged["last_seen_run"] as? String == second)
        #expect(unchanged["deleted_run"] is NSNull)
        let gone = try face(removed.faceToken)
        #expect(gone["first_seen_run"] as? String == first)
        #expect(gone["last_seen_run"] as? String == first)
        #expect(gone["deleted_run"] as? String == second)
        let new = try face(added.faceToken)
        #expect(new["first_seen_run"] as? String == second)
        #expect(new["deleted_run"] is NSNull)
        let lastOfSecond = try face(
            DatasetGenerator(groups: 2, faces: 40, sizing: .exact, seed: 23).make().groups[1].faces.last!.faceToken
        )
        #expect(lastOfSecond["deleted_run"] as? String == third)
        #expect(try sqliteRows(path, "SELECT run_id FROM runs ORDER BY started_at, run_id").count == 3)
        #expect(
            String(decoding: try runProgram("/usr/bin/sqlite3", [path, "PRAGMA integrity_check"]), as: UTF8.self)
                == "ok\n"
        )
        let live =
            try sqliteRows(path, "SELECT count(*) AS n FROM faces WHERE deleted_run IS NULL").first?["n"] as? Int
        #expect(live == 40 + 40 - 1)
    }
}
