import FaceSearchSimulation
import PipelineFile
import Testing

@testable import FaceExport

/// A pipeline file's `simulator:` section reaches the embedded simulator whole, though the pipeline
/// file module does not know the simulator.
struct SimulatorSettingsTests {
    @Test func everyFaultOfThePipelineFileBecomesTheSimulatorsPlan() throws {
        let definition = try PipelineFileLoader.parse(
            """
            name: faults
            endpoint: embedded
            simulator:
              add_time: mixed
              faults: {latency: 0.25, latency_jitter: 0.5, error_rate: 0.1, reset_rate: 0.2, truncate_rate: 0.3,
                       endless_rate: 0.4, damaged_text_rate: 0.5, slow_rate: 0.6, slow_delay: 7,
                       expired_signature_rate: 0.7, rate_limit: 8, in_flight_limit: 9, limit_status: 403,
                       retry_after: 10, seed: 11}
            outputs:
              - {format: ndjson, path: f.ndjson}
            """,
            file: "p.yaml"
        )
        guard case .embedded(let settings) = definition.endpoint else {
            Issue.record("the pipeline names the embedded simulator")
            return
        }
        var expected = FaultPlan()
        expected.latency = 0.25
        expected.latencyJitter = 0.5
        expected.errorRate = 0.1
        expected.resetRate = 0.2
        expected.truncateRate = 0.3
        expected.endlessRate = 0.4
        expected.damagedTextRate = 0.5
        expected.slowRate = 0.6
        expected.slowDelay = 7
        expected.expiredSignatureRate = 0.7
        expected.requestsPerSecondLimit = 8
        expected.inFlightLimit = 9
        expected.limitStatus = 403
        expected.retryAfter = 10
        expected.seed = 11
        #expect(FaultPlan(settings.faults) == expected)
        #expect(FaultPlan(PipelineDefinition.EmbeddedSimulator.Faults()) == FaultPlan(), "the same defaults")
        #expect(settings.addTimeStyle.rawValue == SimulatorConfiguration.AddTimeStyle.mixed.rawValue)
        #expect(
            PipelineDefinition.EmbeddedSimulator.AddTimeStyle.allCases.map(\.rawValue)
                == SimulatorConfiguration.AddTimeStyle.allCases.map(\.rawValue)
        )
    }
}
