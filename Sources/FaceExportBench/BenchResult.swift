import FaceSearchSimulation
import Foundation

/// One scenario's figures.
struct BenchResult: Codable {
    struct Measured: Codable {
        var outcome: String
        var faces: Int
        var wallSeconds: Double
        var cpuSeconds: Double
        var peakResidentMB: Double

        var cpuSecondsPerMillionFaces: Double { self.cpuSeconds / Double(max(1, self.faces)) * 1e6 }

    }

    var scenario: String
    var measured: Measured
    var requests: Int
    var rejections: Int
    var connections: Int
    var figures: [String: Double] = [:]

    init(scenario: String, measured: Measured, statistics: SimulatorStatistics) {
        self.scenario = scenario
        self.measured = measured
        self.requests = statistics.requests
        self.rejections = statistics.rejections
        self.connections = statistics.connectionsAccepted
    }

    var line: String {
        let figures = self.figures.sorted { $0.key < $1.key }.map { "\($0.key)=\(String(format: "%.3f", $0.value))" }
        return "bench \(self.scenario): \(self.measured.outcome), \(self.measured.faces) faces in "
            + "\(String(format: "%.1f", self.measured.wallSeconds)) s, \(self.requests) requests, "
            + "\(self.rejections) rejected, \(self.connections) connections; \(figures.joined(separator: " "))\n"
    }

    static func table(_ results: [BenchResult]) -> String {
        var lines = [
            "scenario                   outcome   faces      wall s   cpu s  peak MB  requests  rejected  conns  figures"
        ]
        for result in results {
            let figures = result.figures.sorted { $0.key < $1.key }.map {
                "\($0.key)=\(String(format: "%.3f", $0.value))"
            }
            lines.append(
                [
                    result.scenario.padding(toLength: 26, withPad: " ", startingAt: 0),
                    result.measured.outcome.padding(toLength: 9, withPad: " ", startingAt: 0),
                    String(result.measured.faces).padding(toLength: 10, withPad: " ", startingAt: 0),
                    String(format: "%7.1f", result.measured.wallSeconds),
                    String(format: "%7.2f", result.measured.cpuSeconds),
                    String(format: "%8.1f", result.measured.peakResidentMB),
                    String(format: "%9d", result.requests),
                    String(format: "%9d", result.rejections),
                    String(format: "%6d", result.connections),
                    " " + figures.joined(separator: " "),
                ].joined(separator: " ")
            )
        }
        return lines.joined(separator: "\n")
    }
}

/// Why a scenario could not be measured: one plain line.
struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension BenchResult.Measured {
    /// What happened between `before` and `after` (the process's CPU, its peak memory at the end).
    init(
        outcome: String = "complete",
        faces: Int,
        wallSeconds: Double,
        from before: ResourceUsage,
        to after: ResourceUsage
    ) {
        self.outcome = outcome
        self.faces = faces
        self.wallSeconds = wallSeconds
        self.cpuSeconds = after.cpuSeconds - before.cpuSeconds
        self.peakResidentMB = Double(after.peakResidentBytes) / 1_048_576
    }
}
