import FaceSearch
import FaceSearchSimulation
import FaceSearchSimulator
import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A `faceexport simulate` child process on loopback, so a benchmark measures the exporter alone.
///
/// The `faceexport` binary is the one beside `faceexport-bench` (the same build folder).
final class SimulatorProcess {
    let endpoint: String
    let credentials: FaceSearchCredentials
    private let process: Process

    /// Starts the simulator with `arguments` (after `simulate --port 0`) and reads its banner.
    init(arguments: [String]) throws {
        let process = Process()
        let bench = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        let exporter = bench.deletingLastPathComponent().appendingPathComponent("faceexport")
        guard FileManager.default.isExecutableFile(atPath: exporter.path) else {
            throw BenchFailure(
                "the simulator runs as \(exporter.path), which is missing: build it with swift build -c release"
            )
        }
        process.executableURL = exporter
        process.arguments = ["simulate", "--port", "0"] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        self.process = process
        var banner = ""
        while banner.components(separatedBy: "\n").count < 4 {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { break }
            banner += String(decoding: chunk, as: UTF8.self)
        }
        let lines = banner.split(separator: "\n").map(String.init)
        guard let url = lines.first?.split(separator: " ").first(where: { $0.hasPrefix("http://") }),
            let key = lines.first(where: { $0.hasPrefix("FACESEARCH_API_KEY=") })?.dropFirst(19),
            let secret = lines.first(where: { $0.hasPrefix("FACESEARCH_API_SECRET=") })?.dropFirst(22)
        else {
            process.terminate()
            throw BenchFailure("the simulator did not start: \(banner)")
        }
        self.endpoint = String(url)
        self.credentials = FaceSearchCredentials(apiKey: String(key), apiSecret: String(secret))
    }

    deinit { self.stop() }

    /// The simulator's counters.
    func statistics() async throws -> SimulatorStatistics {
        let url = URL(string: self.endpoint + FaceSearchSimulator.statisticsPath)!
        let (data, _) = try await URLSession.shared.data(from: url)
        return try JSONDecoder().decode(SimulatorStatistics.self, from: data)
    }

    func stop() {
        guard self.process.isRunning else { return }
        self.process.terminate()
        self.process.waitUntilExit()
    }
}
