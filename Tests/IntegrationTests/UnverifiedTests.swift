import ExportPipeline
import FaceSearchSimulation
import Foundation
import Testing

/// An API that answers `list` but not `get_size` (a region, or a key without the permission): every
/// face is still exported, and every library says it could not be reconciled.
@Suite(.timeLimit(.minutes(10)))
struct UnverifiedTests {
    static let dataset = DatasetGenerator(groups: 10, faces: 2500, sizing: .mixed, seed: 91).make()

    @Test(arguments: [SimulatorConfiguration.UnavailableAnswer.notFound, .denied])
    func withoutGetSizeEveryFaceIsExportedAndEveryLibraryIsUnverified(
        answer: SimulatorConfiguration.UnavailableAnswer
    ) async throws {
        let result = try await exportFromSimulator(
            dataset: Self.dataset,
            simulator: {
                $0.unavailableCalls = ["get_size"]
                $0.unavailableAnswer = answer
            },
            pipeline: { $0.pageSize = 500 }
        )
        #expect(result.report.outcome == .complete, "\(result.report.failure ?? "")")
        #expect(result.report.groups.allSatisfy { $0.status == .unverified && $0.expected == nil })
        #expect(result.report.groups.allSatisfy { $0.error?.contains("get_size is not available") == true })
        #expect(result.rows.count == Self.dataset.faceCount, "no face twice")
        #expect(Set(result.rows) == Set(expectedRows(Self.dataset.groups)))
        // Found out once: later libraries do not ask again (at most one ask per worker in flight).
        #expect(result.statistics.requestsByCall["get_size", default: 0] <= 4)
    }

    @Test func onUnverifiedFailMakesTheRunPartial() async throws {
        let result = try await exportFromSimulator(
            dataset: Self.dataset,
            simulator: { $0.unavailableCalls = ["get_size", "group_list"] },
            groups: .list(Self.dataset.groups.map(\.groupID)),
            pipeline: {
                $0.pageSize = 500
                $0.acceptsUnverified = false
            }
        )
        #expect(result.report.outcome == .partial)
        #expect(Set(result.rows) == Set(expectedRows(Self.dataset.groups)))
    }

    @Test func withoutGroupListAndNoLibrariesNamedTheRunSaysToNameThem() async throws {
        let result = try await exportFromSimulator(
            dataset: Self.dataset,
            simulator: { $0.unavailableCalls = ["get_size", "group_list"] }
        )
        #expect(result.report.outcome == .failed)
        #expect(result.report.failure?.contains("groups_file") == true, "\(result.report.failure ?? "")")
    }

    @Test func aWrongSecretStillStopsTheRunAtOnce() async throws {
        let result = try await exportFromSimulator(
            dataset: Self.dataset,
            simulator: { $0.unavailableCalls = ["get_size"] },
            groups: .list(Self.dataset.groups.map(\.groupID)),
            clientSecret: "wrong"
        )
        #expect(result.report.outcome == .failed)
        #expect(result.report.failure?.contains("INVALID_SIGN") == true, "\(result.report.failure ?? "")")
        // A region without get_size answers 404 before it checks the signature; `list` then refuses it:
        // two calls per worker, not one per library. A call that timed out on a loaded machine and was
        // sent again is still the same call (CI once counted 12 requests for this run, under load).
        let firstAttempts = result.statistics.requests - result.report.retries
        #expect(firstAttempts <= 8, "made \(result.statistics.requests) calls, \(result.report.retries) retries")
    }
}
