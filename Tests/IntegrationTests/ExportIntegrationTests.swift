import ExportPipeline
import ExportSinks
import FaceSearch
import FaceSearchSimulation
import Foundation
import TestSupport
import Testing

/// Whole exports against the simulator on 127.0.0.1 port 0.
@Suite(.timeLimit(.minutes(10)))
struct ExportIntegrationTests {
    static let dataset = DatasetGenerator(groups: 50, faces: 400, sizing: .mixed, seed: 42).make()

    @Test(arguments: [
        (1000, SimulatorConfiguration.AddTimeStyle.mixed, false), (100, .string, true), (100, .number, false),
    ])
    func fiftyLibrariesExportEveryFaceExactlyOnceByteForByte(
        pageSize: Int,
        style: SimulatorConfiguration.AddTimeStyle,
        next: Bool
    ) async throws {
        let dataset = Self.dataset
        #expect(dataset.groups.prefix(7).map(\.faces.count) == DatasetGenerator.edgeSizes)
        let result = try await exportFromSimulator(
            dataset: dataset,
            simulator: {
                $0.addTimeStyle = style
                $0.sendsNext = next
            },
            pipeline: {
                $0.pageSize = pageSize
                $0.concurrency = 6
            }
        )
        #expect(result.report.outcome == .complete, "\(result.report.unfinishedGroups)")
        #expect(result.report.groups.count == 50)
        #expect(result.report.groups.allSatisfy { $0.status == .complete && $0.exported == $0.expected })
        #expect(result.report.faces == dataset.faceCount)
        #expect(Set(result.rows).count == result.rows.count, "no face twice")
        #expect(Set(result.rows) == Set(expectedRows(dataset.groups)), "every face, byte-exact")
        #expect(result.report.files.first?.rows == dataset.faceCount)
    }

    /// The report counts every call the run made, the discovery of the libraries (`group_list`) too.
    @Test func everyCallIsCountedTheLibrariesDiscoveryToo() async throws {
        let dataset = DatasetGenerator(groups: 5, faces: 300, sizing: .exact, seed: 3).make()
        let result = try await exportFromSimulator(dataset: dataset, pipeline: { $0.pageSize = 100 })
        #expect(result.report.outcome == .complete)
        #expect(result.statistics.requestsByCall["group_list"] == 1)
        #expect(result.report.discoveryRequests == 1)
        #expect(result.report.requests == result.statistics.requests, "\(result.statistics.requestsByCall)")
        #expect(result.report.retries == 0)
    }

    @Test func anUnknownLibraryFailsAloneAndTheRunIsPartial() async throws {
        let dataset = DatasetGenerator(groups: 6, faces: 250, sizing: .exact, seed: 3).make()
        let ids = dataset.groups.map(\.groupID)
        let result = try await exportFromSimulator(
            dataset: dataset,
            groups: .list(Array(ids.prefix(3)) + ["no-such-library"] + Array(ids.dropFirst(3))),
            pipeline: { $0.pageSize = 100 }
        )
        #expect(result.report.outcome == .partial)
        let failed = result.report.groups.filter { $0.status != .complete }
        #expect(failed.map(\.groupID) == ["no-such-library"])
        #expect(failed.first?.status == .failed)
        #expect(failed.first?.error?.contains("INVALID_GROUP_ID") == true)
        #expect(failed.first?.requests == 1, "a group-fatal error is not retried")
        #expect(Set(result.rows) == Set(expectedRows(dataset.groups)))
        #expect(result.rows.count == dataset.faceCount)
    }

    @Test func aBadSecretStopsTheRunAtOnceAndLeavesThePreviousOutput() async throws {
        let dataset = DatasetGenerator(groups: 30, faces: 100, sizing: .exact, seed: 5).make()
        let folder = try makeTemporaryDirectory()
        let path = folder + "/faces.ndjson.gz"
        let previous = Data("previous run\n".utf8)
        try previous.write(to: URL(fileURLWithPath: path))
        let result = try await exportFromSimulator(
            dataset: dataset,
            clientSecret: "not-the-secret",
            pipeline: { $0.concurrency = 4 },
            outputPath: path
        )
        #expect(result.report.outcome == .failed)
        #expect(result.report.failure?.contains("AUTHORIZATION_ERROR: INVALID_SIGN") == true)
        #expect(result.report.failure?.contains("check the API secret") == true)
        #expect(
            result.statistics.requests <= 5,
            "stopped after a handful of requests, made \(result.statistics.requests)"
        )
        #expect(result.report.files.isEmpty)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == previous)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["faces.ndjson.gz"])
        #expect(result.report.failure?.contains("not-the-secret") == false)
    }

    @Test func aStrictStartCapMakesLargeLibrariesIncompleteNotComplete() async throws {
        let dataset = DatasetGenerator(groups: 7, faces: 0, sizing: .mixed, seed: 9).make()
        let result = try await exportFromSimulator(
            dataset: dataset,
            simulator: { $0.startCap = .strict(1000) },
            pipeline: { $0.pageSize = 1000 }
        )
        #expect(result.report.outcome == .partial)
        let incomplete = result.report.groups.filter { $0.status == .incomplete }
        // 1,001 faces are reached with one page from start=1000; of 3,000, positions 1 to 1,999.
        #expect(incomplete.map(\.groupID) == [DatasetGenerator.groupID(6)])
        #expect(incomplete.map(\.unreachable) == [1001])
        #expect(incomplete.map(\.exported) == [1999])
        #expect(result.report.groups[5].status == .complete)
        #expect(result.rows.count == dataset.faceCount - 1001)
    }

    @Test func signaturesThatKeepExpiringStopTheRunWithAClockHint() async throws {
        let dataset = DatasetGenerator(groups: 3, faces: 10, sizing: .exact, seed: 1).make()
        let result = try await exportFromSimulator(dataset: dataset, simulator: { $0.clockOffset = 3600 })
        #expect(result.report.outcome == .failed)
        #expect(result.report.failure?.contains("EXPIRED_SIGN") == true)
        #expect(result.report.failure?.contains("clock") == true)
    }
}
