import Foundation
import TestSupport
import Testing
import Transport

@testable import FaceSearch
@testable import FaceSearchSimulation

/// Answers no honest API sends: a body without end, text that is not UTF-8.
@Suite(.timeLimit(.minutes(10)))
struct BrokenAnswerTests {
    static func decode(_ body: [UInt8], repairing: Bool = true) throws(FaceSearchError) -> FacePage {
        try FaceSearchClient.decodeList(
            .success(TransportResponse(status: 200, body: Data(body))),
            repairingText: repairing
        )
    }

    static func page(userData: [UInt8]) -> [UInt8] {
        Array(#"{"face_tokens":[{"face_token":"t0","user_id":"u","user_data":"ok","add_time":1},"#.utf8)
            + Array(#"{"face_token":"t1","user_id":"u","user_data":""#.utf8) + userData
            + Array(#"","add_time":2}],"request_id":"r"}"#.utf8)
    }

    /// Each ill-formed sequence becomes one U+FFFD, as the standard library's (and WHATWG's) decoding
    /// makes it; only the damaged face is marked; the rest of the text is kept byte for byte.
    @Test(arguments: [
        (Array(#"a\ud800b"#.utf8), "a\u{FFFD}b"),
        (Array(#"\udc00"#.utf8), "\u{FFFD}"),
        (Array(#"\ud800\u0041"#.utf8), "\u{FFFD}A"),
        (Array(#"\ud83d\ude00\ud83d"#.utf8), "😀\u{FFFD}"),
        ([0x61, 0xFF, 0x62], "a\u{FFFD}b"),
        ([0xC3], "\u{FFFD}"),
        ([0xE2, 0x82, 0x41], "\u{FFFD}A"),
        ([0xC0, 0xAF], "\u{FFFD}\u{FFFD}"),
        ([0xED, 0xA0, 0x80], "\u{FFFD}\u{FFFD}\u{FFFD}"),
        (Array(#"\"\\"#.utf8) + [0xFF, 0xFE, 0xFD], "\"\\\u{FFFD}\u{FFFD}\u{FFFD}"),
        ([UInt8](repeating: 0xFF, count: 300), String(repeating: "\u{FFFD}", count: 300)),
    ])
    func illFormedTextIsRepairedFaceByFace(damaged: [UInt8], repaired: String) throws {
        let page = try Self.decode(Self.page(userData: damaged))
        let faces = page.faces
        #expect(faces.count == 2)
        #expect(faces[1].userData == repaired)
        #expect(faces[0].userData == "ok")
        #expect(page.spans.map(\.textRepaired) == [false, true])
        #expect(page.requestID == "r")
        // Without repair the page is unreadable, as before.
        #expect(throws: FaceSearchError.self) { try Self.decode(Self.page(userData: damaged), repairing: false) }
    }

    @Test func wellFormedTextIsNeverMarked() throws {
        for text in DatasetGenerator.hardStrings {
            var escaped: [UInt8] = []
            for scalar in text.unicodeScalars {
                switch scalar {
                case "\"": escaped += Array(#"\""#.utf8)
                case "\\": escaped += Array(#"\\"#.utf8)
                case _ where scalar.value < 0x20: escaped += Array(String(format: "\\u%04x", scalar.value).utf8)
                default: escaped += Array(String(scalar).utf8)
                }
            }
            let page = try Self.decode(Self.page(userData: escaped))
            #expect(page.faces[1].userData == text)
            #expect(page.spans.allSatisfy { !$0.textRepaired })
        }
    }

    /// Writes a pipeline whose embedded simulator has `faults` into `folder`; returns its path.
    static func writePipeline(_ folder: String, _ name: String, faults: String, extra: String = "") throws -> String {
        let path = folder + "/" + name
        try Self.pipeline(folder, faults: faults, extra: extra).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func pipeline(_ folder: String, faults: String, extra: String = "") -> String {
        embeddedPipeline(
            name: "broken",
            folder: folder,
            groups: 6,
            faces: 400,
            seed: 9,
            extra: "retry: {max_attempts: 10, base_delay: 0.01, max_delay: 0.05}\n\(extra)",
            outputs: ["{format: ndjson, path: faces.ndjson.gz}", "{format: sqlite, path: faces.sqlite}"]
        ).replacingOccurrences(of: "faults: {latency: 0.0}", with: "faults: {\(faults)}")
    }

    static let dataset = DatasetGenerator(groups: 6, faces: 400, sizing: .mixed, seed: 9).make()

    @Test func aLibraryWithDamagedFacesExportsEveryFaceAndCountsTheRepairs() async throws {
        let folder = try makeTemporaryDirectory()
        let pipeline = try Self.writePipeline(folder, "p.yaml", faults: "damaged_text_rate: 0.05")
        let run = try await CommandLineTests.faceexport(["run", pipeline])
        #expect(run.status == 0, "\(run.stderr)")
        var expected = expectedRows(Self.dataset.groups)
        var damaged: [String: Int] = [:]
        for (index, row) in expected.enumerated()
        where DamagedText.damage(of: row.faceToken, rate: 0.05) != nil {
            expected[index].userData = Array("\u{FFFD}".utf8) + row.userData
            damaged[String(decoding: row.groupID, as: UTF8.self), default: 0] += 1
        }
        #expect(damaged.values.reduce(0, +) > 3, "the dataset has damaged faces")
        let rows = try readNDJSON(folder + "/out/faces.ndjson.gz")
        #expect(rows.count == expected.count, "every face, once")
        #expect(Set(rows) == Set(expected), "byte-exact, the damage replaced")
        let manifest = try #require(
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: folder + "/out/manifest.json"))
            )
                as? [String: Any]
        )
        #expect(manifest["outcome"] as? String == "complete")
        #expect((manifest["totals"] as? [String: Any])?["repaired_text"] as? Int == damaged.values.reduce(0, +))
        for group in manifest["groups"] as? [[String: Any]] ?? [] {
            let id = group["group_id"] as? String ?? ""
            #expect(group["repaired_text"] as? Int == damaged[id, default: 0], "\(id)")
            #expect((group["repaired_faces"] as? [String])?.count == damaged[id].map { min($0, 20) })
        }
        #expect(run.stderr.contains("REPAIRED  \(damaged.values.reduce(0, +)) faces in \(damaged.count) libraries"))

        // `on_invalid_text: fail` keeps the strict reading: those libraries fail, the others complete.
        let strictPipeline = try Self.writePipeline(
            folder,
            "strict.yaml",
            faults: "damaged_text_rate: 0.05",
            extra: "on_invalid_text: fail"
        )
        let strict = try await CommandLineTests.faceexport(["run", strictPipeline])
        #expect(strict.status == 2, "\(strict.stderr)")
        #expect(strict.stderr.contains("\(damaged.count) failed"))
    }

    /// A body that never ends is cut at the answer limit, counted as a failed attempt, and retried;
    /// every face is exported once.
    @Test func answersWithoutEndAreCutOffAndRetried() async throws {
        let folder = try makeTemporaryDirectory()
        let pipeline = try Self.writePipeline(folder, "p.yaml", faults: "endless_rate: 0.15, seed: 4")
        let run = try await CommandLineTests.faceexport([
            "run", pipeline, "--log-level", "debug", "--log-format", "text",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("answer larger than 4 MiB"))
        let rows = try readNDJSON(folder + "/out/faces.ndjson.gz")
        #expect(rows.count == Self.dataset.faceCount)
        #expect(Set(rows) == Set(expectedRows(Self.dataset.groups)))
    }
}
