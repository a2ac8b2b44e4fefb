import ExportPipeline
import FaceSearchSimulator
import Foundation
import Testing

/// Libraries edited while they are exported: offsets move, and the export must still be exact.
@Suite(.timeLimit(.minutes(3)))
struct DriftTests {
    @Test(arguments: [1, 4])
    func mutationsDuringTheExportLoseNoFaceThatStayedAndRepeatNone(concurrency: Int) async throws {
        let dataset = DatasetGenerator(groups: 20, faces: 400, sizing: .exact, seed: 51).make()
        let result = try await exportFromSimulator(
            dataset: dataset,
            simulator: {
                $0.mutationRate = 0.1
                $0.faults.seed = 52
            },
            pipeline: {
                $0.pageSize = 50
                $0.concurrency = concurrency
            }
        )
        let mutations = result.statistics.mutations
        #expect(mutations.contains { $0.kind == .deleted } && mutations.contains { $0.kind == .added })
        let deleted = Set(mutations.filter { $0.kind == .deleted }.map(\.faceToken))
        let exported = result.rows.map(\.faceToken)
        #expect(Set(exported).count == exported.count, "no face twice")
        let stayed = dataset.groups.flatMap(\.faces).map(\.faceToken).filter { !deleted.contains($0) }
        let missing = Set(stayed).subtracting(exported)
        #expect(missing.isEmpty, "faces present throughout the run are all exported; missing \(missing.count)")
        let changed = Set(mutations.map(\.groupID))
        for group in result.report.groups {
            if changed.contains(group.groupID) {
                #expect(group.status == .changedDuringExport, "\(group.groupID) changed but is \(group.status)")
            } else {
                #expect(group.status == .complete, "\(group.groupID) did not change but is \(group.status)")
            }
        }
    }
}
