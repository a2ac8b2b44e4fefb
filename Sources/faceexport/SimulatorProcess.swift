import CMalloc
import FaceSearch
import FaceSearchSimulator
import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A `faceexport simulate` child process on loopback, so a benchmark measures the exporter alone.
final class SimulatorProcess {
    let endpoint: String
    let credentials: FaceSearchCredentials
    private let process: Process

    /// Starts the simulator with `arguments` (after `simulate --port 0`) and reads its banner.
    init(arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
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
            throw LaunchError(description: "the simulator did not start: \(banner)")
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

/// CPU time and peak memory of this process, from getrusage.
struct ResourceUsage {
    var cpuSeconds: Double
    var peakResidentBytes: Int

    static func now() -> Self {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return Self(cpuSeconds: user + system, peakResidentBytes: Self.peakSinceReset() ?? usage.ru_maxrss * 1024)
    }

    /// Starts the peak resident size over (Linux: `5` to `/proc/self/clear_refs`), so that the peak of a
    /// scenario is its own, not that of an earlier one in the same process: the memory malloc kept from
    /// it goes back to the system first. False where that fails.
    @discardableResult
    static func resetPeak() -> Bool {
        malloc_trim(0)
        let descriptor = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        return write(descriptor, "5", 1) == 1
    }

    /// The peak resident size since the last ``resetPeak()`` (`VmHWM` in `/proc/self/status`).
    private static func peakSinceReset() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Int(line.dropFirst("VmHWM:".count).split(separator: " ").first ?? "")
        else { return nil }
        return kilobytes * 1024
    }

    /// CPU seconds the calling thread has used: what a synchronous call on it costs, alone.
    static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
