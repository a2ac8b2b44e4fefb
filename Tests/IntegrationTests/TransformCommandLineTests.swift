import FaceSearchSimulation
import Foundation
import TestSupport
import Testing

/// The `transform:` section through the binary: privacy, keys, dry runs.
struct TransformCommandLineTests {
    static let hashKey = "nightly-hash-key-0123456789abcdef"

    static func pipeline(folder: String, transform: String, outputs: [String], groups: [String]) -> String {
        embeddedPipeline(
            name: "privacy",
            folder: folder,
            groups: 6,
            faces: 300,
            seed: 21,
            extra: "groups: [\(groups.joined(separator: ", "))]\ntransform:\n"
                + transform.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"),
            outputs: outputs
        )
    }

    static let privacy = """
        hash: [user_id]
        hash_key: {env: FACEEXPORT_HASH_KEY}
        redact: [user_data]
        metadata: [run_id, account]
        """

    @Test func hashedAndRedactedValuesAppearInNoOutputByte() async throws {
        let folder = try makeTemporaryDirectory()
        // The embedded simulator's dataset for the first account, as it generates it.
        let dataset = DatasetGenerator(groups: 6, faces: 300, sizing: .mixed, seed: 21).make()
        // Listed rather than discovered: discovery would put the libraries' own metadata (made of the
        // same hard strings) into the manifest, and that is not face data.
        let groups = dataset.groups.map(\.groupID)
        let yaml = Self.pipeline(
            folder: folder,
            transform: Self.privacy,
            outputs: [
                "{format: ndjson, path: faces.ndjson.gz}", "{format: csv, path: faces.csv}",
                "{format: sqlite, path: faces.db, mode: merge, changes: changes.ndjson}",
            ],
            groups: groups
        )
        try yaml.write(toFile: folder + "/p.yaml", atomically: true, encoding: .utf8)
        let environment = ["FACEEXPORT_HASH_KEY": Self.hashKey]
        let run = try await CommandLineTests.faceexport(["run", folder + "/p.yaml"], environment: environment)
        #expect(run.status == 0, "\(run.stderr)")
        let dryRun = try await CommandLineTests.faceexport(
            ["run", "--dry-run", "--dry-run-records", "50", folder + "/p.yaml"],
            environment: environment
        )
        #expect(dryRun.status == 0, "\(dryRun.stderr)")
        // The first library with faces, grp-0001, holds one (the edge sizes are 0, 1, 100, …).
        #expect(dryRun.stdout.split(separator: "\n").filter { $0.hasPrefix("{") }.count == 1)
        #expect(dryRun.stdout.contains("records (first 1 of library 'grp-0001'"), "\(dryRun.stdout)")

        // Every byte the runs left: files (gzip ones decompressed), standard output and error.
        var blobs: [(String, Data)] = [
            ("run stdout+stderr", Data((run.stdout + run.stderr).utf8)),
            ("dry run stdout+stderr", Data((dryRun.stdout + dryRun.stderr).utf8)),
        ]
        let out = folder + "/out"
        let files = try #require(FileManager.default.subpaths(atPath: out))
        for file in files {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: out + "/" + file, isDirectory: &isFolder), !isFolder.boolValue
            else { continue }
            let data =
                file.hasSuffix(".gz")
                ? try runProgram("/bin/gzip", ["-dc", out + "/" + file])
                : try Data(contentsOf: URL(fileURLWithPath: out + "/" + file))
            blobs.append((file, data))
        }
        #expect(
            Set(files).isSuperset(of: ["faces.ndjson.gz", "faces.csv", "faces.db", "changes.ndjson", "manifest.json"])
        )
        let faces = dataset.groups.flatMap(\.faces)
        #expect(faces.count > 1000)
        // Values of five bytes or more: shorter ones ("-42", "") occur in any file by chance.
        let secrets = Set(faces.flatMap { [$0.userID, $0.userData] }.filter { $0.utf8.count >= 5 })
        #expect(secrets.count > 500)
        var found: [String] = []
        for secret in secrets {
            let needle = Data(secret.utf8)
            for (name, bytes) in blobs where Self.contains(bytes, needle) { found.append("\(name): \(secret)") }
        }
        #expect(found.isEmpty, "raw values in the outputs: \(found.prefix(10))")
        // And the outputs do hold the pseudonyms: joins still work.
        let csv = String(decoding: try Data(contentsOf: URL(fileURLWithPath: out + "/faces.csv")), as: UTF8.self)
        #expect(csv.hasPrefix("group_id,face_token,user_id,user_data,add_time,add_time_utc,run_id,account\r\n"))
        #expect(csv.split(separator: "\r\n").count == faces.count + 1)
    }

    /// Byte search, not string search (which would compare Unicode canonically).
    static func contains(_ haystack: Data, _ needle: Data) -> Bool {
        haystack.range(of: needle) != nil
    }

    @Test func aMissingKeyFailsValidationAndTheRunAtItsLine() async throws {
        let folder = try makeTemporaryDirectory()
        let yaml = Self.pipeline(
            folder: folder,
            transform: Self.privacy,
            outputs: ["{format: ndjson, path: faces.ndjson}"],
            groups: ["grp-0001"]
        )
        try yaml.write(toFile: folder + "/p.yaml", atomically: true, encoding: .utf8)
        let line =
            yaml.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("hash_key") }! + 1
        for command in ["validate", "run"] {
            let result = try await CommandLineTests.faceexport([command, folder + "/p.yaml"])
            #expect(result.status == 4, "\(command): \(result.stderr)")
            #expect(
                result.stderr.contains(
                    "p.yaml:\(line): transform.hash_key: the environment variable FACEEXPORT_HASH_KEY is not set"
                ),
                "\(result.stderr)"
            )
        }
        #expect(!FileManager.default.fileExists(atPath: folder + "/out/faces.ndjson"))
        let short = try await CommandLineTests.faceexport(
            ["validate", folder + "/p.yaml"],
            environment: ["FACEEXPORT_HASH_KEY": "short"]
        )
        #expect(short.status == 4)
        #expect(short.stderr.contains("at least 16 random bytes"), "\(short.stderr)")
        let fine = try await CommandLineTests.faceexport(
            ["validate", folder + "/p.yaml"],
            environment: ["FACEEXPORT_HASH_KEY": Self.hashKey]
        )
        #expect(fine.status == 0, "\(fine.stderr)")
    }

    @Test func aDryRunPrintsTheSchemaAndRecordsAndWritesNothing() async throws {
        let folder = try makeTemporaryDirectory()
        let yaml = Self.pipeline(
            folder: folder,
            transform: "select: [face_token, user_id, add_time]\nrename: {face_token: face_id}\nadd_time: ms",
            outputs: ["{format: sqlite, path: faces.db}", "{format: csv, path: faces.csv.gz}"],
            groups: ["grp-0002", "grp-0003"]
        )
        try yaml.write(toFile: folder + "/p.yaml", atomically: true, encoding: .utf8)
        let result = try await CommandLineTests.faceexport([
            "run", "--dry-run", "--dry-run-records", "3", folder + "/p.yaml",
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("schema (3 columns, transform ") == true, "\(result.stdout)")
        #expect(lines.contains { $0.hasPrefix("  face_id ") && $0.hasSuffix("from face_token") })
        #expect(lines.contains { $0.contains("add_time") && $0.contains("integer") })
        let records = lines.filter { $0.hasPrefix("{") }
        #expect(records.count == 3)
        #expect(records.allSatisfy { $0.hasPrefix(#"{"face_id":""#) && $0.contains(#","add_time":"#) })
        #expect(lines.contains("records (first 3 of library 'grp-0002', account 'default'):"))
        // Nothing written, not even the lock or the journal's folder.
        #expect(!FileManager.default.fileExists(atPath: folder + "/out"))
    }

    @Test func aMergedFileRefusesADifferentSchemaAndStaysAsItWas() async throws {
        let folder = try makeTemporaryDirectory()
        let outputs = ["{format: sqlite, path: faces.db, mode: merge}"]
        try Self.pipeline(folder: folder, transform: "drop: [user_data]", outputs: outputs, groups: ["grp-0002"])
            .write(toFile: folder + "/first.yaml", atomically: true, encoding: .utf8)
        try Self.pipeline(folder: folder, transform: "drop: [add_time_utc]", outputs: outputs, groups: ["grp-0002"])
            .write(toFile: folder + "/second.yaml", atomically: true, encoding: .utf8)
        let first = try await CommandLineTests.faceexport(["run", folder + "/first.yaml"])
        #expect(first.status == 0, "\(first.stderr)")
        let before = try Data(contentsOf: URL(fileURLWithPath: folder + "/out/faces.db"))
        let second = try await CommandLineTests.faceexport(["run", folder + "/second.yaml"])
        #expect(second.status == 3)
        #expect(second.stderr.contains("write to a new file or use mode: replace"), "\(second.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/out/faces.db")) == before)
    }
}
