import ExportPipeline
import FaceSearchSimulation
import Foundation
import TestSupport
import Testing

/// The API going down during the night: ridden out when it comes back within the tolerance, a failed
/// run that commits nothing (and can be resumed) when it does not. The simulator's outage runs on the
/// exporter's manual clock, so "30 seconds down" takes no real time.
@Suite(.timeLimit(.minutes(10)))
struct OutageTests {
    static let dataset = DatasetGenerator(groups: 20, faces: 120, sizing: .exact, seed: 81).make()

    @Test(arguments: [FaultPlan.Outage.Kind.reset, .unavailable])
    func thirtySecondsDownMidRunIsRiddenOutAndEveryFaceArrivesOnce(kind: FaultPlan.Outage.Kind) async throws {
        let clock = ManualClock()
        let result = try await exportFromSimulator(
            dataset: Self.dataset,
            simulator: {
                $0.faults.outage = FaultPlan.Outage(fromCall: 30, seconds: 30, kind: kind)
                $0.monotonicClock = { clock.now() }
            },
            pipeline: { $0.pageSize = 50 },
            clock: clock
        )
        #expect(result.report.outcome == .complete, "\(result.report.failure ?? "")")
        #expect(result.rows.count == Self.dataset.faceCount, "no face twice")
        #expect(Set(result.rows) == Set(expectedRows(Self.dataset.groups)))
        let refused = result.statistics.faults["outage", default: 0]
        #expect(refused > 0)
        // Once the workers noticed, one probe at a time on a doubling backoff (1 + 2 + 4 + 8 + 16 s
        // reaches past 30 s): not every worker retrying on its own.
        #expect(refused < 60, "\(refused) calls met the outage")
        #expect(clock.now() >= 30, "the run waited the outage out")
    }

    @Test func anOutageLongerThanTheToleranceFailsCommitsNothingAndResumes() async throws {
        let folder = try makeTemporaryDirectory()
        let output = folder + "/faces.ndjson.gz"
        let journal = folder + "/run.journal"
        let yesterday = Data("yesterday's complete export".utf8)
        try yesterday.write(to: URL(fileURLWithPath: output))
        let clock = ManualClock()
        let runID = "outage-\(UUID().uuidString.prefix(8))"
        let down = try await exportFromSimulator(
            dataset: Self.dataset,
            simulator: {
                $0.faults.outage = FaultPlan.Outage(fromCall: 40, seconds: 100_000)
                $0.monotonicClock = { clock.now() }
            },
            pipeline: {
                $0.pageSize = 50
                $0.outageTolerance = 120
            },
            context: {
                $0.runID = runID
                $0.journalPath = journal
            },
            clock: clock,
            outputPath: output
        )
        #expect(down.report.outcome == .failed)
        #expect(down.report.failure?.contains("could not be reached") == true, "\(down.report.failure ?? "")")
        #expect(down.report.failure?.contains("--resume") == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == yesterday, "yesterday's file untouched")
        #expect(clock.now() >= 120 && clock.now() < 200, "gave up after the tolerance, not before")

        // The API is back: the run continues where it stopped.
        let resume = try #require(ResumeState.read(path: journal, outputs: 1))
        let back = try await exportFromSimulator(
            dataset: Self.dataset,
            pipeline: { $0.pageSize = 50 },
            context: {
                $0.runID = runID
                $0.journalPath = journal
                $0.resume = resume
            },
            outputPath: output
        )
        #expect(back.report.outcome == .complete, "\(back.report.failure ?? "")")
        #expect(back.rows.count == Self.dataset.faceCount, "no face twice")
        #expect(Set(back.rows) == Set(expectedRows(Self.dataset.groups)))
        #expect(back.statistics.requests < down.statistics.requests + 40, "finished libraries were not walked again")
    }

    @Test func aCallThatAloneFailsIsNotAnOutage() async throws {
        // One library's calls keep failing while the others are answered: that library fails, the
        // run goes on (the account is not put on hold for one bad call).
        let clock = ManualClock()
        let result = try await exportFromSimulator(
            dataset: Self.dataset,
            simulator: {
                $0.faults.errorRate = 0.3
                $0.faults.seed = 83
            },
            pipeline: { $0.pageSize = 50 },
            clock: clock
        )
        #expect(result.report.outcome != .failed, "\(result.report.failure ?? "")")
        let exported = result.rows.map(\.faceToken)
        #expect(Set(exported).count == exported.count, "no face twice")
    }
}
